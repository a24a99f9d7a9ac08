"""The planner's watchdog: may this tick plan, or must it send the safe action, and why.

Checked at the start of every control tick on the steady clock: no goal, no belief, a
belief of an older goal, or a belief older than `max_age` seconds (since it arrived)
all mean the safe action, with a reason that goes to PlanStatus and /diagnostics.
ROS-free.
"""

from __future__ import annotations

from dataclasses import dataclass

NO_GOAL = "no_goal"
STALE = "stale_state"


@dataclass(frozen=True)
class Verdict:
    status: str  # NO_GOAL or STALE
    reason: str


def check(
    goal_id: str | None, latent_goal_id: str | None, latent_age: float | None, max_age: float
) -> Verdict | None:
    """None when the tick may plan; else why it must hold."""
    if not goal_id:
        return Verdict(NO_GOAL, "no goal: send an instruction to ~/set_goal")
    if latent_age is None:
        return Verdict(STALE, "no belief received yet")
    if latent_goal_id != goal_id:
        return Verdict(STALE, f"belief not yet reset for goal {goal_id}")
    if latent_age > max_age:
        return Verdict(
            STALE, f"belief is {latent_age * 1e3:.0f} ms old (max {max_age * 1e3:.0f} ms)"
        )
    return None
