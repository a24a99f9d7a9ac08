"""One goal followed to its end, without ROS: what the ExecuteInstruction action reports.

Fed with the planner's ticks (PlanStatus fields) and, where a simulator runs, its steps
(EpisodeStatus fields), for the goal it follows only. Success is the simulator's word
when the simulator reports on this goal. Without one (a real robot) it is the learned
success signal: the world model's predicted reward of the next step at or above
`success_reward` on `success_ticks` planned ticks in a row. Meta-World v3 rewards lie in
[0, 10] and approach 10 at the goal, hence the default 9.0; a checkpoint trained on
another reward scale needs its own threshold (instruction_parser `success_reward`).
"""

from __future__ import annotations

from dataclasses import dataclass

from vla_wm_ros.control.control_loop import PLANNED

SUCCESS_REWARD = 9.0
SUCCESS_TICKS = 5


@dataclass
class Feedback:
    step: int = 0
    predicted_return: float = 0.0
    predicted_reward: float = 0.0
    status: str = ""


@dataclass(frozen=True)
class Outcome:
    success: bool
    message: str


class GoalProgress:
    """Progress of goal `goal_id`; `outcome` is set once it succeeded or ended."""

    def __init__(
        self,
        goal_id: str,
        success_reward: float = SUCCESS_REWARD,
        success_ticks: int = SUCCESS_TICKS,
        max_ticks: int = 0,
        simulated: bool = False,
    ) -> None:
        self.goal_id = goal_id
        self.success_reward, self.success_ticks, self.max_ticks = (
            success_reward,
            success_ticks,
            max_ticks,
        )
        self.feedback = Feedback()
        self.outcome: Outcome | None = None
        # A simulator reports on goals: its word decides, not the learned signal.
        self.simulated = simulated
        self._ticks = 0
        self._above = 0

    def on_plan(
        self, goal_id: str, status: str, predicted_return: float, predicted_reward: float
    ) -> bool:
        """A planner tick; True when it was for this goal (feedback changed)."""
        if goal_id != self.goal_id or self.outcome is not None:
            return False
        fb = self.feedback
        fb.status, fb.predicted_return, fb.predicted_reward = (
            status,
            predicted_return,
            predicted_reward,
        )
        self._ticks += 1
        if not self.simulated:
            fb.step = self._ticks
            planned = status in PLANNED
            self._above = (
                self._above + 1 if planned and predicted_reward >= self.success_reward else 0
            )
            if self._above >= self.success_ticks:
                self.outcome = Outcome(
                    True,
                    f"success (learned signal: predicted reward >= {self.success_reward:g} "
                    f"on {self.success_ticks} ticks)",
                )
            elif self.max_ticks and self._ticks >= self.max_ticks:
                self.outcome = Outcome(False, f"no success within {self.max_ticks} ticks")
        return True

    def on_episode(self, goal_id: str, step: int, success: bool, done: bool) -> bool:
        """A simulator step; True when it was for this goal."""
        if goal_id != self.goal_id or self.outcome is not None:
            return False
        self.simulated = True
        self.feedback.step = step
        if success:
            self.outcome = Outcome(True, f"success (simulator) after {step} steps")
        elif done:
            self.outcome = Outcome(False, f"episode ended after {step} steps without success")
        return True

    def end(self, message: str) -> None:
        """End it from outside (cancelled, replaced, stopped) unless it already ended."""
        if self.outcome is None:
            self.outcome = Outcome(False, message)
