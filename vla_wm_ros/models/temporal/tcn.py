"""Temporal convolutional network with causal (left-only) padding and growing dilation."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


class CausalConv1d(nn.Conv1d):
    """Conv1d padded on the left only: output t sees inputs t - (k-1)*d .. t."""

    def __init__(self, channels: int, kernel_size: int, dilation: int = 1, groups: int = 1):
        super().__init__(channels, channels, kernel_size, dilation=dilation, groups=groups)
        self.left = (kernel_size - 1) * dilation

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(F.pad(x, (self.left, 0)))


class TCNBlock(nn.Module):
    def __init__(self, dim: int, kernel_size: int, dilation: int, dropout: float):
        super().__init__()
        self.net = nn.Sequential(
            CausalConv1d(dim, kernel_size, dilation),
            nn.GELU(),
            nn.Dropout(dropout),
            CausalConv1d(dim, kernel_size, dilation),
            nn.GELU(),
            nn.Dropout(dropout),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.net(x)


class TCN(nn.Module):
    def __init__(self, dim: int, layers: int, kernel_size: int, dropout: float):
        super().__init__()
        self.blocks = nn.Sequential(
            *(TCNBlock(dim, kernel_size, 2**i, dropout) for i in range(layers))
        )

    def forward(self, x: Tensor) -> Tensor:
        """(B, T, dim) -> (B, T, dim)."""
        return self.blocks(x.transpose(1, 2)).transpose(1, 2)
