"""Latency summaries: the same percentiles everywhere time is reported.

Top-level because both the control loop's own statistics and the benchmarks use it, and
neither should depend on the other.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def latency_summary(samples_ms: Sequence[float], deadline_ms: float | None = None) -> dict:
    """p50/p95/p99/mean/max of latencies in milliseconds (and deadline misses if given)."""
    if len(samples_ms) == 0:
        raise ValueError("no latency samples to summarise")
    a = np.asarray(samples_ms, dtype=np.float64)
    out = {
        "n": int(a.size),
        "p50_ms": float(np.percentile(a, 50)),
        "p95_ms": float(np.percentile(a, 95)),
        "p99_ms": float(np.percentile(a, 99)),
        "mean_ms": float(a.mean()),
        "max_ms": float(a.max()),
    }
    if deadline_ms is not None:
        out["deadline_ms"] = float(deadline_ms)
        out["deadline_misses"] = int((a > deadline_ms).sum())
    return out
