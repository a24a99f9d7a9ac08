"""Deadline checks that hold on a shared machine: lateness net of run-queue waits.

A deadline test asserts that the code stops working in time. When the machine is busy the
scheduler can keep this thread off the CPU for tens of milliseconds in the middle of a
plan; that wait is the machine's, not the code's, and Linux records it per thread."""

from __future__ import annotations

import time
from pathlib import Path

_SCHEDSTAT = Path("/proc/thread-self/schedstat")


def run_queue_seconds() -> float:
    """Seconds this thread has so far spent runnable but waiting for a CPU (0 where the
    kernel does not say: the check is then the plain wall-clock one)."""
    try:
        return int(_SCHEDSTAT.read_text().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


class Stopwatch:
    """Wall time since start, less the time this thread waited for a CPU meanwhile."""

    def __init__(self) -> None:
        self.start = time.monotonic()
        self._waited = run_queue_seconds()

    def waited(self) -> float:
        return run_queue_seconds() - self._waited

    def own_seconds(self) -> float:
        return time.monotonic() - self.start - self.waited()

    def own_lateness(self, deadline: float) -> float:
        """Seconds past `deadline` (time.monotonic()) now, net of run-queue waits."""
        return time.monotonic() - deadline - self.waited()
