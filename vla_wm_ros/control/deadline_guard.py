"""A hard deadline around the planner: the tick answers in time even when a plan does not.

The planner stops iterating at its own (soft) deadline, but one iteration it has started
cannot be cut, and on a loaded machine one occasionally takes several times its usual
time. The guard runs each plan in a worker thread and waits for it only until the hard
deadline; a plan not back by then is abandoned for the fallback policy's action (the
actor, computed on the same belief before the plan starts, so it is ready at once),
reported with status "deadline". The abandoned plan finishes in the background; until it
has, later ticks send the fallback too, and the warm start it left is dropped (it was
built on an action that was never sent). ROS-free.
"""

from __future__ import annotations

import contextlib
import time
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

import numpy as np

from vla_wm_ros.control.control_policy import ControlPolicy, Decision


class DeadlineGuard(ControlPolicy):
    """`policy` answered by `deadline + grace` seconds, else `fallback`'s action."""

    def __init__(self, policy: ControlPolicy, fallback: ControlPolicy, grace: float) -> None:
        super().__init__()
        if grace < 0:
            raise ValueError(f"grace must be >= 0 s, got {grace}")
        self.name = policy.name
        self._policy, self._fallback, self._grace = policy, fallback, grace
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="plan")
        self._abandoned_plan: Future | None = None  # still running, or not yet settled
        self.abandoned = 0  # plans given up at the hard deadline, since start

    def reset(self, goal_id: str) -> None:
        super().reset(goal_id)
        self._wait_for_abandoned_plan()
        self._policy.reset(goal_id)
        self._fallback.reset(goal_id)

    def act(self, state, goal: np.ndarray, deadline: float) -> Decision:
        hard_deadline = deadline + self._grace
        fallback = self._fallback.act(state, goal, hard_deadline)
        if self._abandoned_plan is not None:
            if not self._abandoned_plan.done():
                return _late(fallback, "the previous plan is still running")
            self._wait_for_abandoned_plan()
            if self.goal_id is not None:  # its warm start was built on an unsent action
                self._policy.reset(self.goal_id)
        plan = self._worker.submit(self._policy.act, state, goal, deadline)
        try:
            return plan.result(timeout=max(hard_deadline - time.monotonic(), 0.0))
        except FutureTimeout:
            self._abandoned_plan = plan
            self.abandoned += 1
            return _late(fallback, f"plan not back {self._grace * 1e3:.0f} ms past its deadline")

    def _wait_for_abandoned_plan(self) -> None:
        if self._abandoned_plan is None:
            return
        # Its error, if any, is not this tick's: the tick that abandoned it answered.
        with contextlib.suppress(Exception):
            self._abandoned_plan.result()
        self._abandoned_plan = None

    def close(self) -> None:
        self._worker.shutdown(wait=True)


def _late(fallback: Decision, why: str) -> Decision:
    fallback.status = "deadline"
    fallback.reason = f"deadline: {why}: {fallback.planner}'s action sent"
    fallback.iterations = 0
    return fallback
