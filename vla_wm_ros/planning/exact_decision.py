"""The actor-or-plan decision of a reduced-precision plan, taken again in fp32.

Sampling planners may search in bf16 or fp16 (planning/precision.py); the search itself
tolerates rounding (the plan's worth stays within 3 % of fp32's, test_precision). The
uncertainty margin does not: it compares the chosen plan's predicted return with the
actor's mode trajectory's, a difference of a few units in returns of tens, against kappa
times a Q spread of a few units, and bf16 rounds values by ~1 % and spreads by ~5 %
(measured on the shipped model: V off by up to 0.3 at ~30, Q spread by up to 0.19 at
2-5). In-process, bf16 planning left the actor on 28 % of reach ticks where fp32 left it
on none. So the actor's mode trajectory and the last iteration's elites are rolled out
and scored again by the fp32 weights (1 + elites trajectories, a few percent of one
iteration), and `choose_plan` decides on those scores.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from vla_wm_ros.planning.config import SamplingConfig
from vla_wm_ros.planning.model import GoalContextCache, rollout
from vla_wm_ros.planning.score import SampleScorer, Scores
from vla_wm_ros.planning.uncertainty import SafetyGate


class ExactDecision:
    """Re-scores the prior's row and the elites with `full`, the fp32 planning model."""

    def __init__(self, full, cfg: SamplingConfig, gate: SafetyGate):
        self.model = full
        self.scorer = SampleScorer(full, cfg, gate)
        self._goal_context = GoalContextCache(full)

    def rescore(self, belief: Any, goal: Tensor, actions: Tensor, scores: Scores):
        """(Scores over [prior row, elites...], their actions (H, 1 + k, A)) in fp32; the
        elites keep their order and refit weights."""
        rows = torch.cat([scores.index.new_zeros(1), scores.index])
        chosen = actions.index_select(1, rows).float()
        f0 = self.model.feature(belief)
        horizon, count = chosen.shape[0], chosen.shape[1]
        features = f0.new_empty(horizon + 1, count, f0.shape[-1])
        features[0].copy_(f0.expand(count, -1))
        rollout(self.model, features, chosen)
        returns, first_reward, spread = self.scorer(features, chosen, self._goal_context(goal))
        index = torch.arange(1, count, device=rows.device)
        exact = Scores(returns, first_reward, returns[1:], index, scores.weights, spread)
        return exact, chosen
