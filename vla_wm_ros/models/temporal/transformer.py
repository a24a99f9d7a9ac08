"""Causal self-attention encoder: a TransformerEncoder with a lower-triangular mask."""

from __future__ import annotations

from torch import Tensor, nn

from vla_wm_ros.models.temporal.masks import causal_mask


class CausalTransformer(nn.Module):
    def __init__(self, dim: int, heads: int, layers: int, ff_mult: int, dropout: float):
        super().__init__()
        layer = nn.TransformerEncoderLayer(
            dim, heads, dim * ff_mult, dropout, batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)

    def forward(self, x: Tensor) -> Tensor:
        """(B, T, dim) -> (B, T, dim); step t attends to steps <= t only."""
        mask = causal_mask(x.shape[1], x.shape[1], x.device)
        return self.encoder(x, mask=mask, is_causal=True)
