"""Heads on the latent feature: reward and value (goal-conditioned), continue, actor, and
the training-only environment-state head.

Goal-conditioned heads take (feature, goal) where goal is the instruction's sentence
embedding; `goal_term(goal)` precomputes the goal's share of the first layer so a planner
pays for it once per plan: `head(feature, goal_term=head.goal_term(goal))`.
Continue is a logit everywhere (BCE-with-logits in training, sigmoid only when a
probability is needed).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from vla_wm_ros.models.distributions import TanhNormal
from vla_wm_ros.models.mlp import MLP, ConditionedMLP


class GoalHead(nn.Module):
    """Scalar regression on (feature, goal): the reward head and the critic."""

    def __init__(
        self, feature_dim: int, goal_dim: int, hidden: int, layers: int, act: str, norm: bool
    ):
        super().__init__()
        self.net = ConditionedMLP(feature_dim, goal_dim, hidden, layers, 1, act, norm)

    def goal_term(self, goal: Tensor) -> Tensor:
        return self.net.term(goal)

    def forward(
        self, feature: Tensor, goal: Tensor | None = None, goal_term: Tensor | None = None
    ) -> Tensor:
        """(..., F) -> (...)."""
        return self.net(feature, goal, goal_term).squeeze(-1)

    def feature_linears(self) -> list[nn.Linear]:
        return self.net.feature_linears()


class ContinueHead(nn.Module):
    """Logit of 'the episode goes on after this state' (not terminal)."""

    def __init__(self, feature_dim: int, hidden: int, layers: int, act: str, norm: bool):
        super().__init__()
        self.net = MLP(feature_dim, hidden, layers, 1, act, norm)

    def forward(self, feature: Tensor) -> Tensor:
        """(..., F) -> (...) logits."""
        return self.net(feature).squeeze(-1)


class StateHead(nn.Module):
    """The simulator's environment state (object and goal poses) decoded from the feature:
    an auxiliary training target, so the belief must hold where things are (pixels alone
    leave a few-pixel puck or goal marker to chance). Predicts the state standardised by
    the training data's mean and std, kept as buffers so that the checkpoint carries them."""

    def __init__(self, feature_dim: int, state_dim: int, hidden: int, layers: int, act, norm):
        super().__init__()
        self.net = MLP(feature_dim, hidden, layers, state_dim, act, norm)
        self.register_buffer("mean", torch.zeros(state_dim))
        self.register_buffer("std", torch.ones(state_dim))
        # Per-dimension weight of the loss (a training setting, not saved): set_loss_units.
        self.register_buffer("loss_weight", torch.ones(state_dim), persistent=False)

    def set_scale(self, mean, std) -> None:
        """The data's per-dimension mean and std (a constant dimension keeps std 1)."""
        std = torch.as_tensor(std, dtype=self.std.dtype)
        self.mean.copy_(torch.as_tensor(mean, dtype=self.mean.dtype))
        self.std.copy_(torch.where(std > 1e-6, std, torch.ones_like(std)))

    def set_loss_units(self, data_std, dims: list[int], resolution: float) -> None:
        """Which dimensions the loss counts (`dims`; empty: all) and in what units: data
        standard deviations, or (`resolution` > 0, in the state's units) errors measured in
        `resolution` where the data spreads wider. A puck the data spreads over 10 cm
        otherwise counts a 3 cm miss as 0.3 of a deviation, next to nothing in the loss."""
        data_std = torch.as_tensor(data_std, dtype=self.std.dtype)
        weight = torch.zeros_like(self.std) if dims else torch.ones_like(self.std)
        weight[list(dims)] = 1.0
        if resolution > 0:
            wide = data_std > resolution
            weight = torch.where(wide, weight * (data_std / resolution).pow(2), weight)
        self.loss_weight.copy_(weight)

    def forward(self, feature: Tensor) -> Tensor:
        """(..., F) -> (..., S) the state in the data's units."""
        return self.net(feature) * self.std + self.mean

    def loss(self, feature: Tensor, state: Tensor) -> Tensor:
        """Mean squared error of the standardised state over the counted dimensions, each
        weighted as set_loss_units says (by default: every dimension, weight 1)."""
        target = (state.float() - self.mean) / self.std
        error = (self.net(feature) - target).pow(2) * self.loss_weight
        return error.sum(-1).mean() / self.loss_weight.gt(0).sum()


class Actor(nn.Module):
    """Goal-conditioned tanh-Gaussian policy; std bounded in [min_std, max_std]."""

    def __init__(
        self,
        feature_dim: int,
        goal_dim: int,
        action_dim: int,
        hidden: int,
        layers: int,
        min_std: float,
        max_std: float,
        act: str,
        norm: bool,
    ):
        super().__init__()
        self.action_dim = action_dim
        self.net = ConditionedMLP(feature_dim, goal_dim, hidden, layers, 2 * action_dim, act, norm)
        self.min_std = min_std
        self.std_range = max_std - min_std

    def goal_term(self, goal: Tensor) -> Tensor:
        return self.net.term(goal)

    def forward(
        self, feature: Tensor, goal: Tensor | None = None, goal_term: Tensor | None = None
    ) -> TanhNormal:
        loc, std = self.net(feature, goal, goal_term).chunk(2, dim=-1)
        return TanhNormal(loc, torch.sigmoid(std + 2.0) * self.std_range + self.min_std)

    def feature_linears(self) -> list[nn.Linear]:
        return self.net.feature_linears()
