"""Heads on the latent feature: reward and value (goal-conditioned), continue, actor.

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
