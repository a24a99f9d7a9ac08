"""Spin an executor until something happens: the wait every client of the graph needs.

Duck-typed on `executor.spin_once`, so importing it loads no rclpy.
"""

from __future__ import annotations

import time
from collections.abc import Callable


def spin_until(executor, predicate: Callable[[], bool], timeout: float, step: float = 0.02) -> bool:
    """Spin `executor` until `predicate()` is true or `timeout` seconds pass; its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        executor.spin_once(timeout_sec=step)
    return bool(predicate())
