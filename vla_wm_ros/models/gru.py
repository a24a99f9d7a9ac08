"""The RSSM's deterministic path: a stack of GRU cells, one GEMM per layer per step.

Each layer computes all three gate pre-activations with one Linear over [x, h] (the
DreamerV3 formulation: the reset gate scales the whole candidate pre-activation, the
update gate starts biased towards keeping the state). With several layers the state is
the concatenation of every layer's hidden vector, so it stays Markov.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class StackedGRU(nn.Module):
    def __init__(self, in_dim: int, width: int, layers: int, norm: bool):
        super().__init__()
        self.width = width
        self.layers = layers
        self.cells = nn.ModuleList(
            nn.Linear((in_dim if i == 0 else width) + width, 3 * width, bias=not norm)
            for i in range(layers)
        )
        self.norms = nn.ModuleList(nn.LayerNorm(3 * width) for _ in range(layers)) if norm else None

    @property
    def state_size(self) -> int:
        return self.width * self.layers

    def forward(self, x: Tensor, state: Tensor) -> Tensor:
        """(B, in_dim) input, (B, layers*width) state -> next state of the same shape."""
        outputs = []
        for i, cell in enumerate(self.cells):
            h = state[..., i * self.width : (i + 1) * self.width] if self.layers > 1 else state
            parts = cell(torch.cat([x, h], dim=-1))
            if self.norms is not None:
                parts = self.norms[i](parts)
            reset, cand, update = parts.split(self.width, dim=-1)
            cand = torch.tanh(torch.sigmoid(reset) * cand)
            x = torch.lerp(h, cand, torch.sigmoid(update - 1.0))
            outputs.append(x)
        return outputs[0] if self.layers == 1 else torch.cat(outputs, dim=-1)
