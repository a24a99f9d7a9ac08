"""Deterministic and stochastic (Gaussian) latent dynamics: MLPs predicting the change.

Both predict next_state = state + delta(state, action): a residual is easier to learn than
the absolute next state when consecutive latents are close.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from vla_wm_ros.config.model import DynamicsConfig
from vla_wm_ros.models.mlp import MLP


class DeterministicDynamics(nn.Module):
    def __init__(self, cfg: DynamicsConfig, state_dim: int, action_dim: int):
        super().__init__()
        self.net = MLP(state_dim + action_dim, cfg.hidden, cfg.layers, state_dim, cfg.act, False)

    def forward(self, state: Tensor, action: Tensor) -> dict[str, Tensor]:
        mean = state + self.net(torch.cat([state, action], dim=-1))
        return {"mean": mean, "sample": mean}

    def loss(self, state: Tensor, action: Tensor, next_state: Tensor) -> Tensor:
        """Squared error summed over latent dims, averaged over rows."""
        return (self(state, action)["mean"] - next_state).pow(2).sum(-1).mean()


class StochasticDynamics(nn.Module):
    """Diagonal Gaussian next state; trained by negative log-likelihood."""

    def __init__(self, cfg: DynamicsConfig, state_dim: int, action_dim: int):
        super().__init__()
        self.net = MLP(
            state_dim + action_dim, cfg.hidden, cfg.layers, 2 * state_dim, cfg.act, False
        )
        self.min_log_std = cfg.min_log_std
        self.max_log_std = cfg.max_log_std

    def forward(self, state: Tensor, action: Tensor) -> dict[str, Tensor]:
        delta, log_std = self.net(torch.cat([state, action], dim=-1)).chunk(2, dim=-1)
        mean = state + delta
        std = log_std.clamp(self.min_log_std, self.max_log_std).exp()
        return {"mean": mean, "std": std, "sample": mean + std * torch.randn_like(std)}

    def log_prob(self, state: Tensor, action: Tensor, next_state: Tensor) -> Tensor:
        out = self(state, action)
        z = (next_state - out["mean"]) / out["std"]
        return (-0.5 * z.pow(2) - out["std"].log() - 0.5 * math.log(2 * math.pi)).sum(-1)

    def loss(self, state: Tensor, action: Tensor, next_state: Tensor) -> Tensor:
        """Gaussian negative log-likelihood, summed over latent dims, averaged over rows."""
        return -self.log_prob(state, action, next_state).mean()
