"""Uncertainty-aware planning: the safe fallback when the chosen plan is too uncertain.

Planners penalise disagreement in their scores themselves (it is part of scoring); this
gate decides afterwards whether the chosen plan may be executed at all.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from vla_wm_ros.planning.config import SafetyConfig
from vla_wm_ros.planning.model import PlanningModel
from vla_wm_ros.planning.result import PlanResult


class SafetyGate:
    """Holds the configured safe action and swaps it in above the disagreement threshold."""

    def __init__(self, cfg: SafetyConfig, model: PlanningModel):
        needs_ensemble = cfg.threshold is not None or cfg.disagreement_penalty > 0
        if needs_ensemble and not model.has_disagreement:
            raise ValueError(
                "safety: threshold/disagreement_penalty are set but the world model has no "
                "ensemble to measure disagreement with"
            )
        low = model.action_low.detach().cpu().numpy().astype(np.float32)
        high = model.action_high.detach().cpu().numpy().astype(np.float32)
        if cfg.safe_action:
            safe = np.asarray(cfg.safe_action, dtype=np.float32)
            if safe.shape != (model.action_dim,):
                raise ValueError(
                    f"safety.safe_action has {safe.size} values, the model's action_dim is "
                    f"{model.action_dim}"
                )
        else:
            safe = np.zeros(model.action_dim, dtype=np.float32)
        if np.any(safe < low) or np.any(safe > high):
            raise ValueError(f"safety.safe_action {safe.tolist()} lies outside the action bounds")
        self.cfg = cfg
        self.safe_action = safe
        self.measures = needs_ensemble
        self.penalty = cfg.disagreement_penalty  # what planners score with, checked above

    def apply(self, result: PlanResult) -> PlanResult:
        """The result itself, or the safe action with status 'uncertain' and the reason."""
        threshold = self.cfg.threshold
        if threshold is None or not result.uncertainty > threshold:
            return result
        return replace(
            result,
            action=self.safe_action.copy(),
            status="uncertain",
            reason=(
                f"ensemble disagreement {result.uncertainty:.4g} of the chosen plan exceeds "
                f"threshold {threshold:.4g}: safe action sent"
            ),
        )
