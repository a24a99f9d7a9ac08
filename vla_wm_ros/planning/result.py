"""What every planner returns on a control tick (mirrors vla_wm_interfaces/PlanStatus)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

import numpy as np

Status = Literal["ok", "deadline", "uncertain"]


@dataclass
class PlanResult:
    """The action to send and why: the node copies these into PlanStatus.

    expected_return: predicted discounted reward + terminal value of the chosen plan
    (gradient MPC: minus its tracking cost). uncertainty: mean ensemble disagreement along
    the chosen plan (0 without an ensemble). predicted_reward: reward of the plan's first
    step, NaN where no imagined step chose the action (a deadline before the first rollout,
    gradient MPC). reason: empty when status is 'ok'.
    """

    action: np.ndarray
    expected_return: float
    uncertainty: float
    iterations: int
    elapsed_ms: float
    status: Status
    reason: str
    predicted_reward: float


def deadline_result(
    action: np.ndarray,
    start: float,
    deadline: float,
    step: str,
    step_ms: float,
    sent: str,
    expected_return: float = float("nan"),
    uncertainty: float = 0.0,
) -> PlanResult:
    """A plan given up before its first `step` because one takes longer (~`step_ms`) than
    the time left until `deadline` (time.monotonic()); `sent` says what was sent instead."""
    return PlanResult(
        action=action,
        expected_return=expected_return,
        uncertainty=uncertainty,
        iterations=0,
        elapsed_ms=(time.monotonic() - start) * 1e3,
        status="deadline",
        reason=(
            f"deadline: {(deadline - start) * 1e3:.1f} ms left, one {step} takes "
            f"~{step_ms:.1f} ms: {sent}"
        ),
        predicted_reward=float("nan"),
    )
