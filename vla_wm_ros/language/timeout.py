"""Grounding with a time limit, in a worker thread of its own.

A VLM can take seconds per instruction. The instruction parser is its own node, so the
planner's control loop never waits for it: the planner keeps acting on the goal it has
(or holds with the safe action when it has none) until a new Goal message arrives. This
bounds what the caller of SetGoal waits: past `timeout` the instruction is refused and
the running goal stays. A grounding that overran still finishes in the worker (a thread
cannot be stopped) and its answer is dropped; the next instruction queues behind it.
"""

from __future__ import annotations

import concurrent.futures

import numpy as np

from vla_wm_ros.language.grounding import Grounding


class TimedGrounder:
    """Wraps any grounder (`ground(text, image)`, `dim`) with a wall-clock limit."""

    def __init__(self, grounder, timeout: float) -> None:
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, got {timeout}")
        self.grounder = grounder
        self.timeout = float(timeout)
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="grounding")

    def ground(self, text: str, image: np.ndarray | None = None) -> Grounding:
        future = self._pool.submit(self.grounder.ground, text, image)
        try:
            return future.result(timeout=self.timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            return Grounding(
                None,
                0.0,
                np.zeros(self.grounder.dim, np.float32),
                False,
                f"grounding took longer than {self.timeout:.2f} s and was abandoned; "
                "the running goal stays",
            )

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
