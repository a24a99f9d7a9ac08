"""Conditional RealNVP (Dinh et al. 2017) over the latent change next_state - state.

Affine coupling layers with alternating binary masks; scale and shift come from an MLP of
(the kept half, condition = [state, action]). log_prob is exact: the base Normal's density
plus the sum of log-scales (the shift by `state` has unit Jacobian).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from vla_wm_ros.config.model import DynamicsConfig
from vla_wm_ros.models.mlp import MLP


class AffineCoupling(nn.Module):
    def __init__(self, dim: int, cond_dim: int, hidden: int, layers: int, act: str, parity: int):
        super().__init__()
        mask = (torch.arange(dim) % 2 == parity).float()
        self.register_buffer("mask", mask)
        self.net = MLP(dim + cond_dim, hidden, layers, 2 * dim, act, False)
        nn.init.normal_(self.net[-1].weight, std=1e-3)  # starts close to the identity map
        nn.init.zeros_(self.net[-1].bias)

    def _scale_shift(self, kept: Tensor, cond: Tensor) -> tuple[Tensor, Tensor]:
        scale, shift = self.net(torch.cat([kept, cond], dim=-1)).chunk(2, dim=-1)
        free = 1.0 - self.mask
        return torch.tanh(scale) * free, shift * free

    def forward(self, x: Tensor, cond: Tensor) -> tuple[Tensor, Tensor]:
        """Data -> base direction: (y, log|det dy/dx|)."""
        scale, shift = self._scale_shift(x * self.mask, cond)
        return x * torch.exp(scale) + shift, scale.sum(-1)

    def inverse(self, y: Tensor, cond: Tensor) -> Tensor:
        scale, shift = self._scale_shift(y * self.mask, cond)
        return (y - shift) * torch.exp(-scale)


class FlowDynamics(nn.Module):
    def __init__(self, cfg: DynamicsConfig, state_dim: int, action_dim: int):
        super().__init__()
        self.state_dim = state_dim
        self.couplings = nn.ModuleList(
            AffineCoupling(
                state_dim, state_dim + action_dim, cfg.hidden, cfg.layers, cfg.act, i % 2
            )
            for i in range(cfg.flow_blocks)
        )

    def _to_base(self, delta: Tensor, cond: Tensor) -> tuple[Tensor, Tensor]:
        log_det = torch.zeros(delta.shape[:-1], device=delta.device, dtype=delta.dtype)
        for coupling in self.couplings:
            delta, ld = coupling(delta, cond)
            log_det = log_det + ld
        return delta, log_det

    def _from_base(self, z: Tensor, cond: Tensor) -> Tensor:
        for coupling in reversed(self.couplings):
            z = coupling.inverse(z, cond)
        return z

    def log_prob(self, state: Tensor, action: Tensor, next_state: Tensor) -> Tensor:
        """Exact log p(next_state | state, action): (N,)."""
        cond = torch.cat([state, action], dim=-1)
        z, log_det = self._to_base(next_state - state, cond)
        base = -0.5 * z.pow(2).sum(-1) - 0.5 * self.state_dim * math.log(2 * math.pi)
        return base + log_det

    def forward(self, state: Tensor, action: Tensor) -> dict[str, Tensor]:
        """A sample with its exact log-probability, and `mean`: the image of the base mode."""
        cond = torch.cat([state, action], dim=-1)
        z = torch.randn_like(state)
        sample = state + self._from_base(z, cond)
        center = state + self._from_base(torch.zeros_like(state), cond)
        return {
            "sample": sample,
            "log_prob": self.log_prob(state, action, sample),
            "mean": center,
        }

    def loss(self, state: Tensor, action: Tensor, next_state: Tensor) -> Tensor:
        return -self.log_prob(state, action, next_state).mean()
