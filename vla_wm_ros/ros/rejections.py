"""Turning away a bad input: count it, keep the reason, log it without flooding.

A node that receives a malformed message logs why and carries on with the next one. A
camera stuck on a wrong encoding would log 30 identical lines a second, so a reason is
logged when it differs from the previous one or at most once per `interval` seconds;
the count and the last reason go to /diagnostics.
"""

from __future__ import annotations

import time


class Rejections:
    """Counts rejected inputs per node and logs their reasons through `logger`."""

    def __init__(self, logger, interval: float = 1.0) -> None:
        self._logger = logger
        self._interval = interval
        self.count = 0
        self.last_reason = ""
        self._last_logged = -float("inf")

    def reject(self, what: str, reason: str) -> None:
        """Record that input `what` (e.g. "image") was dropped because of `reason`."""
        text = f"rejected {what}: {reason}"
        self.count += 1
        now = time.monotonic()
        if text != self.last_reason or now - self._last_logged >= self._interval:
            self._logger.warning(text)
            self._last_logged = now
        self.last_reason = text

    def report(self) -> dict:
        return {"rejected": self.count, "last_rejection": self.last_reason or "-"}
