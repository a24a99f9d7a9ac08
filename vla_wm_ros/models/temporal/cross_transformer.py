"""TemporalTransformer: causal self-attention over action tokens, then causal
cross-attention to per-step observation features.

Both attentions are causal: action token t sees action tokens <= t and observation
features of steps <= t (memory step s is the observation at time s), so the encoder can
run online.
"""

from __future__ import annotations

from torch import Tensor, nn

from vla_wm_ros.models.temporal.masks import causal_mask


class TemporalTransformer(nn.Module):
    def __init__(self, dim: int, heads: int, layers: int, ff_mult: int, dropout: float):
        super().__init__()
        self.self_layers = nn.ModuleList(
            nn.TransformerEncoderLayer(
                dim, heads, dim * ff_mult, dropout, batch_first=True, norm_first=True
            )
            for _ in range(layers)
        )
        self.cross_layers = nn.ModuleList(
            nn.TransformerDecoderLayer(
                dim, heads, dim * ff_mult, dropout, batch_first=True, norm_first=True
            )
            for _ in range(layers)
        )
        self.norm = nn.LayerNorm(dim)

    def forward(self, actions: Tensor, observations: Tensor) -> Tensor:
        """actions (B, T, dim), observations (B, S, dim) on the same time grid -> (B, T, dim)."""
        steps, memory = actions.shape[1], observations.shape[1]
        self_mask = causal_mask(steps, steps, actions.device)
        cross_mask = causal_mask(steps, memory, actions.device)
        x = actions
        for layer in self.self_layers:
            x = layer(x, src_mask=self_mask, is_causal=True)
        for layer in self.cross_layers:
            x = layer(
                x, observations, tgt_mask=self_mask, memory_mask=cross_mask, tgt_is_causal=True
            )
        return self.norm(x)
