"""Unidirectional LSTM / GRU history encoder (the seed's was bidirectional: it saw the future)."""

from __future__ import annotations

from typing import Literal

from torch import Tensor, nn


class RecurrentEncoder(nn.Module):
    def __init__(self, kind: Literal["lstm", "gru"], dim: int, layers: int, dropout: float):
        super().__init__()
        rnn = nn.LSTM if kind == "lstm" else nn.GRU
        self.rnn = rnn(dim, dim, layers, batch_first=True, dropout=dropout if layers > 1 else 0.0)

    def forward(self, x: Tensor) -> Tensor:
        """(B, T, dim) -> (B, T, dim)."""
        return self.rnn(x)[0]
