"""/diagnostics for every node: diagnostic_updater where it imports, else our publisher.

Each node registers one function that reports its health as (level, message, values);
it goes out as a diagnostic_msgs/DiagnosticArray on /diagnostics at a fixed period on the
steady clock, and immediately when `publish_now()` is called (e.g. the moment the
watchdog trips). On a ROS install with diagnostic_updater the report is one task
(`TASK`) of an Updater (status name `<node>: health`, the updater's convention that
diagnostic_aggregator analyzers match), refreshed by `force_update()`; without it (the
PyPI wheels have no diagnostic_updater) the fallback publishes the same levels, message
and values under the node's fully qualified name. Failed callbacks (ros/callback_guard)
are added to every node's report on either path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

try:
    from diagnostic_updater import Updater
except ImportError:  # no diagnostics package (PyPI wheels): the publisher below
    Updater = None
from rclpy.clock import Clock, ClockType
from rclpy.node import Node

from vla_wm_ros.ros import qos

OK = DiagnosticStatus.OK
WARN = DiagnosticStatus.WARN
ERROR = DiagnosticStatus.ERROR
# The level names control/ reports health with (it does not import diagnostic_msgs).
LEVELS = {"ok": OK, "warn": WARN, "error": ERROR}

Report = tuple[bytes, str, dict[str, Any]]  # (level: OK/WARN/ERROR, message, values)
TASK = "health"


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
        self._updater = Updater(node) if Updater is not None else None
        if self._updater is not None:
            self._updater.setHardwareID(self._hardware_id)
            self._updater.add(TASK, self._fill)
            self._pub = None
        else:
            self._pub = node.create_publisher(DiagnosticArray, "/diagnostics", qos.STATUS)
        self._timer = node.create_timer(
            period, self.publish_now, clock=Clock(clock_type=ClockType.STEADY_TIME)
        )

    def _full_report(self) -> Report:
        """The node's report with its failed callbacks (a failure turns OK into WARN)."""
        level, message, values = self._report()
        failures = getattr(self._node, "callback_failures", None)  # ros/callback_guard
        if failures is not None:
            values = {**values, **failures.report()}
            if failures.count and level == OK:
                level, message = WARN, f"{message}; {failures.last_reason}"
        return level, message, values

    def _fill(self, stat):
        """diagnostic_updater task: the report into its DiagnosticStatusWrapper."""
        level, message, values = self._full_report()
        stat.summary(level, message)
        for key, value in values.items():
            stat.add(key, _text(value))
        return stat

    def publish_now(self) -> None:
        if self._updater is not None:
            self._updater.force_update()
            return
        level, message, values = self._full_report()
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

    def close(self) -> None:
        """Stop reporting (a lifecycle node's cleanup)."""
        self._node.destroy_timer(self._timer)
        if self._pub is not None:
            self._node.destroy_publisher(self._pub)
