"""Selective state-space encoder (Mamba, Gu & Dao 2023) in plain PyTorch.

Each block: input projection to (x, z); causal depthwise conv on x; input-dependent step
size dt, input and output matrices B_t, C_t; the diagonal recurrence
h_t = exp(dt_t A) h_{t-1} + dt_t B_t x_t, y_t = C_t h_t + D x_t; gated by silu(z).
The recurrence is a loop over time only (every batch row and channel at once); the
discretised terms are computed for the whole sequence beforehand. The fused CUDA kernels
of the mamba-ssm package are not used: that package is not installable here.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vla_wm_ros.models.temporal.tcn import CausalConv1d


class SelectiveSSM(nn.Module):
    def __init__(self, dim: int, state: int, conv: int, expand: int):
        super().__init__()
        inner = expand * dim
        self.inner = inner
        self.state = state
        self.dt_rank = math.ceil(dim / 16)
        self.in_proj = nn.Linear(dim, 2 * inner, bias=False)
        self.conv = CausalConv1d(inner, conv, groups=inner)
        self.x_proj = nn.Linear(inner, self.dt_rank + 2 * state, bias=False)
        self.dt_proj = nn.Linear(self.dt_rank, inner)
        # dt starts log-uniform in [1e-3, 1e-1] (the bias is softplus's inverse of it).
        dt = torch.exp(torch.empty(inner).uniform_(math.log(1e-3), math.log(1e-1)))
        with torch.no_grad():
            self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))
        a = torch.arange(1, state + 1, dtype=torch.float32).repeat(inner, 1)
        self.a_log = nn.Parameter(torch.log(a))  # A = -exp(a_log), S4D-real initialisation
        self.d = nn.Parameter(torch.ones(inner))
        self.out_proj = nn.Linear(inner, dim, bias=False)

    def forward(self, u: Tensor) -> Tensor:
        """(B, T, dim) -> (B, T, dim)."""
        x, z = self.in_proj(u).chunk(2, dim=-1)
        x = F.silu(self.conv(x.transpose(1, 2)).transpose(1, 2))
        dt, b, c = self.x_proj(x).split([self.dt_rank, self.state, self.state], dim=-1)
        dt = F.softplus(self.dt_proj(dt))  # (B, T, inner)
        a = -torch.exp(self.a_log)  # (inner, state)
        decay = torch.exp(dt.unsqueeze(-1) * a)  # (B, T, inner, state)
        drive = (dt * x).unsqueeze(-1) * b.unsqueeze(2)  # (B, T, inner, state)
        h = torch.zeros_like(decay[:, 0])
        states = []
        for t in range(u.shape[1]):
            h = decay[:, t] * h + drive[:, t]
            states.append(h)
        y = torch.einsum("btis,bts->bti", torch.stack(states, dim=1), c) + self.d * x
        return self.out_proj(y * F.silu(z))


class MambaEncoder(nn.Module):
    """Residual pre-norm stack of selective SSM blocks."""

    def __init__(self, dim: int, layers: int, state: int, conv: int, expand: int):
        super().__init__()
        self.norms = nn.ModuleList(nn.LayerNorm(dim) for _ in range(layers))
        self.blocks = nn.ModuleList(SelectiveSSM(dim, state, conv, expand) for _ in range(layers))

    def forward(self, x: Tensor) -> Tensor:
        for norm, block in zip(self.norms, self.blocks, strict=True):
            x = x + block(norm(x))
        return x
