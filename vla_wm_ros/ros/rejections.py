"""Turning away a bad input: count it, keep the reason, log it without flooding.

A node that receives a malformed message logs why and carries on with the next one. A
camera stuck on a wrong encoding would log 30 identical lines a second, so a reason is
logged when it differs from the previous one or at most once per `interval` seconds;
the count and the last reason go to /diagnostics. The callback guard (ros/callback_guard)
counts failed callbacks the same way, under its own verb and keys.
"""

from __future__ import annotations

import time


class Rejections:
    """Counts rejected inputs per node and logs their reasons through `logger`.

    `verb` starts each logged line, `keys` name the count and the last reason in
    `report()`, `level` is the logger method ("warning", "error").
    """

    def __init__(
        self,
        logger,
        interval: float = 1.0,
        verb: str = "rejected",
        keys: tuple[str, str] = ("rejected", "last_rejection"),
        level: str = "warning",
    ) -> None:
        if level not in ("warning", "error"):
            raise ValueError(f"level {level!r} is not 'warning' or 'error'")
        self._logger, self._level = logger, level
        self._interval = interval
        self._verb = verb
        self._keys = keys
        self.count = 0
        self.last_reason = ""
        self._last_logged = -float("inf")

    def reject(self, what: str, reason: str) -> None:
        """Record that input `what` (e.g. "image") was dropped because of `reason`."""
        text = f"{self._verb} {what}: {reason}"
        self.count += 1
        now = time.monotonic()
        if text != self.last_reason or now - self._last_logged >= self._interval:
            # One call per level: rclpy refuses two severities from one call site.
            if self._level == "error":
                self._logger.error(text)
            else:
                self._logger.warning(text)
            self._last_logged = now
        self.last_reason = text

    def report(self) -> dict:
        count_key, reason_key = self._keys
        return {count_key: self.count, reason_key: self.last_reason or "-"}
