"""The PlanStatus code each plan outcome is published with.

The control core speaks in status names (control/watchdog, planning results); the message
carries the interface's constants, so the one mapping between them lives here.
"""

from __future__ import annotations

from vla_wm_interfaces.msg import PlanStatus
from vla_wm_ros.control import watchdog

STATUS_CODES = {
    "ok": PlanStatus.OK,
    watchdog.NO_GOAL: PlanStatus.NO_GOAL,
    watchdog.STALE: PlanStatus.STALE_STATE,
    "uncertain": PlanStatus.UNCERTAIN,
    "deadline": PlanStatus.DEADLINE,
    "error": PlanStatus.ERROR,
}
