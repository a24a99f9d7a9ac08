"""Offline value for planning (IQL, as FOWM uses it): a Q ensemble and V on the latent.

Fitted from recorded transitions (f_t, a_t, r_t, f_{t+1}, goal) of a frozen world model's
filtered posteriors, nothing imagined:

    Q_i(f_t, a_t)  <-  r_t + gamma * V(f_{t+1})          every head, from its own init
    V(f_t)         <-  expectile_tau over the data of  min_i Qtarget_i(f_t, a_t)

V's target evaluates the Q heads only at the recorded action, so no value is ever read
off an action the data does not hold; tau > 0.5 leans V towards the better of the actions
seen from a state. The planner ends each imagined trajectory with V and subtracts the
Q heads' spread (std over heads) at every step: where the heads disagree, the data did not
pin the value of that action down. Q and V predict in units of `value_scale` (Meta-World's
returns reach ~10 / (1 - gamma)), so their output layers need no large weights.
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn

from vla_wm_ros.config.value import ValueConfig
from vla_wm_ros.models.heads import GoalHead
from vla_wm_ros.models.mlp import ConditionedMLP


class QEnsemble(nn.Module):
    """`heads` goal-conditioned Q functions on (feature, action), each its own MLP."""

    def __init__(self, feature_dim: int, action_dim: int, goal_dim: int, cfg: ValueConfig):
        super().__init__()
        self.heads = nn.ModuleList(
            ConditionedMLP(
                feature_dim + action_dim, goal_dim, cfg.hidden, cfg.layers, 1, cfg.act, cfg.norm
            )
            for _ in range(cfg.heads)
        )

    def goal_term(self, goal: Tensor) -> Tensor:
        """Every head's goal share of its first layer: (G,) -> (E, H); (N, G) -> (E, N, H)."""
        return torch.stack([head.term(goal) for head in self.heads])

    def forward(
        self,
        feature: Tensor,
        action: Tensor,
        goal: Tensor | None = None,
        goal_term: Tensor | None = None,
    ) -> Tensor:
        """(N, F), (N, A) -> (E, N) raw Q values (in units of value_scale)."""
        if goal_term is None:
            if goal is None:
                raise ValueError("QEnsemble needs either goal or goal_term")
            goal_term = self.goal_term(goal)
        x = torch.cat([feature, action], dim=-1)
        return torch.stack(
            [head(x, term=goal_term[i]).squeeze(-1) for i, head in enumerate(self.heads)]
        )


class OfflineValue(nn.Module):
    """Q ensemble (+ its target copy) and V, with the IQL losses."""

    def __init__(self, feature_dim: int, action_dim: int, goal_dim: int, cfg: ValueConfig):
        super().__init__()
        if cfg.heads < 2:
            raise ValueError(f"value.heads: an offline value needs >= 2 Q heads, got {cfg.heads}")
        self.cfg = cfg
        self.q = QEnsemble(feature_dim, action_dim, goal_dim, cfg)
        self.target_q = copy.deepcopy(self.q).requires_grad_(False)
        self.v = GoalHead(feature_dim, goal_dim, cfg.hidden, cfg.layers, cfg.act, cfg.norm)

    def value(self, feature: Tensor, goal: Tensor | None = None, goal_term: Tensor | None = None):
        """V(feature, goal): (..., F) -> (...), in return units."""
        return self.v(feature, goal, goal_term) * self.cfg.value_scale

    def q_values(self, feature: Tensor, action: Tensor, goal_term: Tensor) -> Tensor:
        """Every head's Q(feature, action): (E, N), in return units."""
        return self.q(feature, action, goal_term=goal_term) * self.cfg.value_scale

    def spread(self, feature: Tensor, action: Tensor, goal_term: Tensor) -> Tensor:
        """Std over the Q heads of Q(feature, action): (N,), in return units."""
        return self.q(feature, action, goal_term=goal_term).std(dim=0) * self.cfg.value_scale

    def loss(
        self,
        feature: Tensor,
        action: Tensor,
        reward: Tensor,
        next_feature: Tensor,
        goal: Tensor,
        not_terminal: Tensor | None = None,
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """IQL losses on (N,) transitions, in units of value_scale; goal (N, G) or (G,).

        Returns (q loss summed over heads + v loss, named detached terms)."""
        cfg, scale = self.cfg, self.cfg.value_scale
        continues = torch.ones_like(reward) if not_terminal is None else not_terminal.float()
        with torch.no_grad():
            target_q = self.target_q(feature, action, goal)
            combined = target_q.min(0).values if cfg.target == "min" else target_q.mean(0)
            td_target = reward / scale + cfg.gamma * continues * self.v(next_feature, goal)
        v = self.v(feature, goal)
        diff = combined - v
        weight = torch.abs(cfg.expectile - (diff < 0).float())
        v_loss = (weight * diff.square()).mean()
        q = self.q(feature, action, goal)
        q_loss = (q - td_target).square().mean(dim=1).sum()
        terms = {
            "q": q_loss.detach(),
            "v": v_loss.detach(),
            "q_mean": q.detach().mean() * scale,
            "v_mean": v.detach().mean() * scale,
            "q_spread": q.detach().std(dim=0).mean() * scale,
        }
        return q_loss + v_loss, terms

    @torch.no_grad()
    def update_target(self, tau: float | None = None) -> None:
        """Polyak-average the target Q heads towards the online ones."""
        tau = self.cfg.target_tau if tau is None else tau
        for target, online in zip(self.target_q.parameters(), self.q.parameters(), strict=True):
            target.lerp_(online, tau)
