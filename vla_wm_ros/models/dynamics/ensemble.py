"""Ensemble of MLP dynamics, all members in one batched matmul per layer.

Epistemic uncertainty is the members' disagreement: the standard deviation of their
predictions, averaged over latent dimensions. Members differ by initialisation (and, if
the trainer chooses, by the rows each one sees through `loss(member_mask=...)`).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from vla_wm_ros.config.model import DynamicsConfig
from vla_wm_ros.models.mlp import activation


class EnsembleLinear(nn.Module):
    """E independent Linear layers applied with one baddbmm: (E, N, in) -> (E, N, out)."""

    def __init__(self, members: int, in_features: int, out_features: int):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        bound = 1.0 / math.sqrt(in_features)
        self.weight = nn.Parameter(torch.empty(members, in_features, out_features))
        self.bias = nn.Parameter(torch.empty(members, 1, out_features))
        nn.init.uniform_(self.weight, -bound, bound)
        nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        return torch.baddbmm(self.bias, x, self.weight)


class EnsembleDynamics(nn.Module):
    def __init__(self, cfg: DynamicsConfig, state_dim: int, action_dim: int):
        super().__init__()
        self.members = cfg.ensemble_size
        dims = [state_dim + action_dim] + [cfg.hidden] * cfg.layers + [state_dim]
        layers: list[nn.Module] = []
        for i in range(len(dims) - 1):
            layers.append(EnsembleLinear(self.members, dims[i], dims[i + 1]))
            if i < len(dims) - 2:
                layers.append(activation(cfg.act))
        self.net = nn.Sequential(*layers)

    def predictions(self, state: Tensor, action: Tensor) -> Tensor:
        """(N, S), (N, A) -> (E, N, S): every member's next-state prediction."""
        x = torch.cat([state, action], dim=-1)
        return state + self.net(x.unsqueeze(0).expand(self.members, *x.shape))

    def forward(self, state: Tensor, action: Tensor) -> dict[str, Tensor]:
        preds = self.predictions(state, action)
        std = preds.std(dim=0)
        member = torch.randint(self.members, (state.shape[0],), device=state.device)
        sample = preds[member, torch.arange(state.shape[0], device=state.device)]
        return {"mean": preds.mean(0), "std": std, "sample": sample, "uncertainty": std.mean(-1)}

    def disagreement(self, state: Tensor, action: Tensor) -> Tensor:
        """(N,) epistemic uncertainty of the next state."""
        return self.predictions(state, action).std(dim=0).mean(-1)

    def loss(
        self, state: Tensor, action: Tensor, next_state: Tensor, member_mask: Tensor | None = None
    ) -> Tensor:
        """Every member's squared error (summed over dims), averaged over the rows it sees.

        member_mask (E, N) of 0/1 selects each member's rows (bootstrap); None = all rows.
        """
        errors = (self.predictions(state, action) - next_state).pow(2).sum(-1)  # (E, N)
        if member_mask is None:
            return errors.mean(-1).sum()
        mask = member_mask.to(errors.dtype)
        return ((errors * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)).sum()
