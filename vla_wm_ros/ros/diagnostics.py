"""A small /diagnostics publisher (diagnostic_updater is not installable here).

Each node registers one function that reports its health as (level, message, values);
the helper publishes it as a diagnostic_msgs/DiagnosticArray on /diagnostics at a fixed
period on the steady clock, and immediately when `publish_now()` is called (e.g. the
moment the watchdog trips), the way diagnostic_updater's `force_update` does. Failed
callbacks (ros/callback_guard) are added to every node's report.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.clock import Clock, ClockType
from rclpy.node import Node

from vla_wm_ros.ros import qos

OK = DiagnosticStatus.OK
WARN = DiagnosticStatus.WARN
ERROR = DiagnosticStatus.ERROR
# The level names control/ reports health with (it does not import diagnostic_msgs).
LEVELS = {"ok": OK, "warn": WARN, "error": ERROR}

Report = tuple[bytes, str, dict[str, Any]]  # (level: OK/WARN/ERROR, message, values)


def _text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


class Diagnostics:
    """Publishes `report()` for `node` on /diagnostics every `period` seconds."""

    def __init__(
        self, node: Node, report: Callable[[], Report], period: float, hardware_id: str = ""
    ) -> None:
        self._node = node
        self._report = report
        self._name = f"{node.get_fully_qualified_name().lstrip('/')}"
        self._hardware_id = hardware_id or node.get_name()
        self._pub = node.create_publisher(DiagnosticArray, "/diagnostics", qos.STATUS)
        self._timer = node.create_timer(
            period, self.publish_now, clock=Clock(clock_type=ClockType.STEADY_TIME)
        )

    def publish_now(self) -> None:
        level, message, values = self._report()
        failures = getattr(self._node, "callback_failures", None)  # ros/callback_guard
        if failures is not None:
            values = {**values, **failures.report()}
            if failures.count and level == OK:
                level, message = WARN, f"{message}; {failures.last_reason}"
        status = DiagnosticStatus(
            level=level,
            name=self._name,
            message=message,
            hardware_id=self._hardware_id,
            values=[KeyValue(key=k, value=_text(v)) for k, v in values.items()],
        )
        array = DiagnosticArray(status=[status])
        array.header.stamp = self._node.get_clock().now().to_msg()
        self._pub.publish(array)
