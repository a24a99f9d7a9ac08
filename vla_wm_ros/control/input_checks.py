"""Checks every input stream of the state estimator passes, without ROS.

Values are checked after conversion to the dtype the model computes in (float32): a
1e300 joint position is finite as float64 and inf after the cast, so checking first
and casting after let it through into the belief. Frame stamps are checked against the
node clock (zero = unset, in the future, too old, not after the previous frame), and
each stream's age (joint states, executed action) against its own limit: a belief built
on a stream that stopped is withheld, and the planner's watchdog sends the safe action.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from vla_wm_ros.config.fields import doc

MODEL_DTYPE = np.float32


@dataclass
class StreamLimits:
    """Age limits per input stream, in seconds: the one home of their defaults (the
    estimator's parameters are generated from these fields, ros/parameters.params_from)."""

    max_joint_age: float = field(
        default=0.5,
        metadata=doc("seconds since the last joint_states (and ee_pose, with proprio_source "
                     "pose) after which the belief is withheld", 0.001, 60.0),
    )  # fmt: skip
    max_action_age: float = field(
        default=1.0,
        metadata=doc("seconds since the last executed action after which the belief is "
                     "withheld", 0.001, 60.0),
    )  # fmt: skip
    max_frame_age: float = field(
        default=1.0,
        metadata=doc("a frame stamped this many seconds behind the node clock is rejected",
                     0.001, 3600.0),
    )  # fmt: skip
    max_stamp_lead: float = field(
        default=0.2,
        metadata=doc("a frame stamped this many seconds ahead of the node clock is rejected",
                     0.0, 60.0),
    )  # fmt: skip


def as_model_values(values, what: str) -> tuple[np.ndarray, str | None]:
    """`values` as the model's dtype, and why they are refused (None: finite)."""
    with np.errstate(over="ignore"):
        array = np.asarray(values, dtype=np.float64).astype(MODEL_DTYPE)
    bad = np.flatnonzero(~np.isfinite(array))
    if bad.size:
        shown = ", ".join(str(i) for i in bad[:8])
        return array, f"non-finite {what} at {shown} (as {np.dtype(MODEL_DTYPE).name})"
    return array, None


class StampCheck:
    """Frame stamps must be set, not ahead of the clock, not too old, and increasing."""

    def __init__(self, max_age: float, max_lead: float) -> None:
        self._max_age, self._max_lead = max_age, max_lead
        self.last: float | None = None

    def check(self, stamp: float, now: float) -> str | None:
        """None when the stamp (seconds) is accepted (and remembered), else why not."""
        if self.last is not None and now < self.last - self._max_lead:
            self.last = None  # the clock itself jumped back (a simulator restarted)
        if stamp <= 0.0:
            return "stamp is zero (unset)"
        if stamp - now > self._max_lead:
            return f"stamp {stamp:.3f} s is {stamp - now:.3f} s ahead of the clock ({now:.3f} s)"
        if now - stamp > self._max_age:
            return f"stamp is {now - stamp:.3f} s old (limit {self._max_age:g} s)"
        if self.last is not None and stamp <= self.last:
            return f"stamp {stamp:.3f} s is not after the previous frame's {self.last:.3f} s"
        self.last = stamp
        return None


def goal_problem(embedding, goal_dim: int) -> str | None:
    """Why a goal's embedding is refused (None: `goal_dim` finite float32 values).

    Checked by every node that acts on a goal: the estimator resets its belief for a new
    goal id, so a malformed goal it took would leave the planner without a belief.
    """
    vector, problem = as_model_values(embedding, "embedding value(s)")
    if vector.size != goal_dim:
        return f"embedding of {vector.size} values, the model takes {goal_dim}"
    return problem
