"""How many samples a sampling plan can afford before its deadline.

Under a deadline a plan's work shrinks to the time there is, iterations first, then
samples: when even one iteration with every sample would not fit, the plan runs with
fewer samples (halved until they fit, at least a minimum); only below that does it fall
back to the actor prior's action. The time estimate is kept per full sample count, so the
plan grows back as soon as the machine allows.
"""

from __future__ import annotations


def samples_that_fit(
    full: int, min_samples: int, first_ms: float | None, start: float, deadline: float | None
) -> int:
    """Samples of `full` whose first iteration (`first_ms` for all of them) ends before
    `deadline` (time.monotonic() seconds) when started at `start`; 0: not even
    `min_samples` fit."""
    if deadline is None:
        return full
    left_ms = (deadline - start) * 1e3
    if left_ms <= 0.0:
        return 0
    if not first_ms or first_ms <= left_ms:
        return full
    # Halvings only: a few sample counts ever, each with buffers (and, on compiled
    # backends, shapes) that are warm after their first use.
    n = full
    while n > 1 and n * first_ms > full * left_ms:
        n //= 2
    return n if n >= min_samples else 0


def updated_estimate(old_ms: float | None, took_ms: float) -> float:
    """A duration estimate after a run that took `took_ms`: down at once, up smoothed, so
    that one slow run (a cold start, a busy machine) does not stop every later plan from
    trying."""
    if old_ms is not None and took_ms > old_ms:
        return 0.7 * old_ms + 0.3 * took_ms
    return took_ms
