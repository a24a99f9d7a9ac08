"""What every planner returns on a control tick (mirrors vla_wm_interfaces/PlanStatus)."""

from __future__ import annotations

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
    step. reason: empty when status is 'ok'.
    """

    action: np.ndarray
    expected_return: float
    uncertainty: float
    iterations: int
    elapsed_ms: float
    status: Status
    reason: str
    predicted_reward: float
