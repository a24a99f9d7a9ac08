"""What the control loop reports about itself: achieved rate, latency, deadline misses.

Kept over a rolling window of recent ticks (what /diagnostics shows now) plus totals
since start. A deadline miss is a tick whose work took longer than one control period,
i.e. the next tick could not start on time. ROS-free, so it is tested without a graph.
"""

from __future__ import annotations

from collections import deque

from vla_wm_ros.latency import latency_summary


class LoopStats:
    """Tick start times and latencies (seconds, steady clock) of the last `window` ticks."""

    def __init__(self, period: float, window: int = 200) -> None:
        if period <= 0:
            raise ValueError(f"control period must be positive, got {period}")
        self.period = period
        self._starts: deque[float] = deque(maxlen=window)
        self._latencies_ms: deque[float] = deque(maxlen=window)
        self.ticks = 0
        self.deadline_misses = 0

    def record(self, start: float, latency: float) -> None:
        self._starts.append(start)
        self._latencies_ms.append(latency * 1e3)
        self.ticks += 1
        if latency > self.period:
            self.deadline_misses += 1

    def rate_hz(self) -> float:
        """Ticks per second over the window (0 before two ticks)."""
        if len(self._starts) < 2:
            return 0.0
        span = self._starts[-1] - self._starts[0]
        return (len(self._starts) - 1) / span if span > 0 else 0.0

    def summary(self) -> dict:
        """Rate, window latency percentiles and totals, for /diagnostics."""
        out = {
            "rate_hz": self.rate_hz(),
            "target_hz": 1.0 / self.period,
            "ticks": self.ticks,
            "deadline_misses": self.deadline_misses,
        }
        if self._latencies_ms:
            lat = latency_summary(list(self._latencies_ms), deadline_ms=self.period * 1e3)
            out.update(
                latency_p50_ms=lat["p50_ms"],
                latency_p99_ms=lat["p99_ms"],
                latency_max_ms=lat["max_ms"],
                window_deadline_misses=lat["deadline_misses"],
            )
        return out
