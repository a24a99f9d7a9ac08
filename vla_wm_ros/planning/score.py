"""How the sampling planners score a batch of imagined action sequences.

A sample's score is its discounted imagined reward plus the value at the horizon, minus
(optionally) the Q ensemble's discounted spread, the world-model ensemble's disagreement
and the distance from the actor prior's action; kept apart from the sampling machinery so
the objective reads in one place.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from vla_wm_ros.planning.config import SamplingConfig
from vla_wm_ros.planning.model import GoalContext, PlanningModel
from vla_wm_ros.planning.uncertainty import SafetyGate


class Scores(NamedTuple):
    """One iteration's scores: every sample's return and first-step reward, the elites'
    returns (best first) and indices, their refit weights, and every sample's discounted
    Q-ensemble spread (None when no spread was computed)."""

    returns: Tensor
    first_reward: Tensor
    elite_returns: Tensor
    index: Tensor
    weights: Tensor
    spread: Tensor | None


class SampleScorer:
    """Discounted reward + terminal value (- Q-spread, disagreement and prior penalties)."""

    def __init__(self, model: PlanningModel, cfg: SamplingConfig, gate: SafetyGate):
        self.model = model
        self.horizon = cfg.horizon
        self.gate = gate
        self._prior_penalty = cfg.prior_penalty / model.action_dim
        # Without a Q ensemble (a checkpoint with no offline value) there is no spread to
        # penalise: the score is rewards + value, as `uses_q_penalty` tells.
        self.uses_q_penalty = bool(cfg.uncertainty_penalty) and model.has_q_ensemble
        self._q_penalty = cfg.uncertainty_penalty if self.uses_q_penalty else 0.0
        use_margin = cfg.uncertainty_margin is not None and model.has_q_ensemble
        self.kappa = cfg.uncertainty_margin if use_margin and cfg.policy_samples else None
        self._needs_spread = self.uses_q_penalty or self.kappa is not None
        low = model.action_low
        self._low = model.action_low.view(1, -1)
        self._high = model.action_high.view(1, -1)
        self._discounts = cfg.discount ** torch.arange(
            cfg.horizon, device=low.device, dtype=low.dtype
        )
        self._terminal = float(cfg.discount**cfg.horizon) * cfg.value_weight
        # A model that runs an iteration's sampling, rollout and the terms above as one
        # graph (planning/precision.py, compiled) does so unless a term outside it is on.
        fusable = not gate.penalty and not self._prior_penalty
        self.fused = getattr(model, "scored_rollout", None) if fusable else None

    def plan_graph(self, cfg: SamplingConfig, elite_weights):
        """The model's whole-plan graph with this score's terms in it, as a call
        (f0, context, (previous plan, blend), noise) -> compiled_plan's outputs; None when
        the model has none, a term outside it is on, or there is no actor prior."""
        build = getattr(self.model, "plan_graph", None)
        if build is None or self.fused is None or not cfg.policy_samples:
            return None
        graph = build(cfg, elite_weights, self._needs_spread)
        constants = (self._discounts, self._terminal, self._q_penalty)

        def run(f0: Tensor, context: GoalContext, start: tuple[Tensor, Tensor], noise: Tensor):
            return graph(f0, context, start, noise, *constants)

        return run

    def sample_and_score(
        self,
        features: Tensor,
        actions: Tensor,
        sampling: tuple[Tensor, Tensor, Tensor],
        context: GoalContext,
        prior_rows: int,
    ) -> tuple[Tensor, Tensor, Tensor | None]:
        """The fused iteration: actions[:, prior_rows:] drawn from `sampling` (mean, std,
        noise), rolled out from features[0] and scored with the prior's rows; same
        returns as __call__ (the sampled rows' features are not written back)."""
        p = prior_rows
        sampled, returns, first_reward, spread = self.fused(
            features[0, :1],
            (features[1:, :p], actions[:, :p]),
            sampling,
            context,
            self._discounts,
            self._terminal,
            self._q_penalty,
            self._needs_spread,
        )
        actions[:, p:].copy_(sampled)
        return returns, first_reward, spread

    def __call__(
        self, features: Tensor, actions: Tensor, context: GoalContext
    ) -> tuple[Tensor, Tensor, Tensor | None]:
        """Score of every sample of `features` (H+1, N, F) / `actions` (H, N, A); also its
        first-step reward and discounted Q spread (or None)."""
        model, h = self.model, self.horizon
        n, width = features.shape[1], features.shape[2]
        rewards = model.reward(features[1:].view(h * n, width), context).view(h, n)
        returns = self._discounts @ rewards
        if self._terminal:
            returns.add_(model.value(features[h], context), alpha=self._terminal)
        spread = None
        if self._needs_spread:
            flat = features[:-1].view(h * n, width)
            spread = self._discounts @ model.q_spread(flat, actions.view(h * n, -1), context).view(
                h, n
            )
            if self._q_penalty:
                returns.sub_(spread, alpha=self._q_penalty)
        if self.gate.penalty:
            flat = features[:-1].view(h * n, width)
            disagreement = model.disagreement(flat, actions.view(h * n, -1)).view(h, n)
            returns.sub_(self._discounts @ disagreement, alpha=self.gate.penalty)
        if self._prior_penalty:
            flat = features[:-1].view(h * n, width)
            prior = model.policy(flat, context, False).clamp_(self._low, self._high)
            deviation = (actions.view(h * n, -1) - prior).square_().sum(-1).view(h, n)
            returns.sub_(self._discounts @ deviation, alpha=self._prior_penalty)
        return returns, rewards[0], spread


def choose_plan(
    scores: Scores, actions: Tensor, mean: Tensor, cfg: SamplingConfig, kappa: float | None
) -> tuple[Tensor, float, float, bool]:
    """The plan to send from the last iteration's scores: the refit mean or the best sample
    (`cfg.action_choice`), or the actor's mode trajectory (row 0 of `actions`, when there
    are prior rows: `kappa` not None or a prior_margin) when the chosen plan does not beat
    it by the margin: prior_margin + kappa x the chosen plan's discounted Q spread.
    Returns (plan (H, 1, A), its expected return, its first-step reward, whether it is
    the actor's); read once per plan, not per iteration: each float() waits for the
    device."""
    if cfg.action_choice == "best":
        chosen = actions.index_select(1, scores.index[:1])
        expected = float(scores.elite_returns[0])
        predicted = float(scores.first_reward[scores.index[0]])
    else:
        chosen = mean
        expected = float(scores.weights @ scores.elite_returns)
        predicted = float(scores.weights @ scores.first_reward.index_select(0, scores.index))
    if cfg.policy_samples and (cfg.prior_margin is not None or kappa is not None):
        prior_return = float(scores.returns[0])
        margin = cfg.prior_margin or 0.0
        if kappa is not None:
            spread = scores.spread
            if cfg.action_choice == "best":
                uncertainty = float(spread[scores.index[0]])
            else:
                uncertainty = float(scores.weights @ spread.index_select(0, scores.index))
            margin += kappa * uncertainty
        if expected - prior_return < margin:
            return actions[:, :1], prior_return, float(scores.first_reward[0]), True
    return chosen, expected, predicted, False
