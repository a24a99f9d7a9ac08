"""HistoryEncoder: (observation embedding, previous action) sequence -> causal context.

One factory (`build_temporal_encoder`) picks the core from config: causal transformer,
LSTM, GRU, TCN, Mamba-style selective SSM, or the TemporalTransformer whose action tokens
cross-attend to observation features. The context at step t depends on steps <= t only.
"""

from __future__ import annotations

from torch import Tensor, nn

from vla_wm_ros.config.model import TemporalConfig
from vla_wm_ros.models.temporal.cross_transformer import TemporalTransformer
from vla_wm_ros.models.temporal.masks import sinusoidal_positions
from vla_wm_ros.models.temporal.recurrent import RecurrentEncoder
from vla_wm_ros.models.temporal.ssm import MambaEncoder
from vla_wm_ros.models.temporal.tcn import TCN
from vla_wm_ros.models.temporal.transformer import CausalTransformer


class HistoryEncoder(nn.Module):
    def __init__(self, cfg: TemporalConfig, obs_dim: int, action_dim: int):
        super().__init__()
        self.cfg = cfg
        self.obs_dim = obs_dim
        self.action_dim = action_dim
        self.context_dim = dim = cfg.context_dim
        self.obs_proj = nn.Linear(obs_dim, dim)
        self.action_proj = nn.Linear(action_dim, dim)
        self.uses_positions = cfg.kind in ("transformer", "cross_transformer")
        kind = cfg.kind
        if kind == "transformer":
            self.core = CausalTransformer(dim, cfg.heads, cfg.layers, cfg.ff_mult, cfg.dropout)
        elif kind in ("lstm", "gru"):
            self.core = RecurrentEncoder(kind, dim, cfg.layers, cfg.dropout)
        elif kind == "tcn":
            self.core = TCN(dim, cfg.layers, cfg.kernel_size, cfg.dropout)
        elif kind == "mamba":
            self.core = MambaEncoder(dim, cfg.layers, cfg.ssm_state, cfg.ssm_conv, cfg.ssm_expand)
        elif kind == "cross_transformer":
            self.core = TemporalTransformer(dim, cfg.heads, cfg.layers, cfg.ff_mult, cfg.dropout)
        else:
            raise ValueError(f"temporal.kind: no encoder for {kind!r}")
        self.norm = nn.LayerNorm(dim)

    def forward(self, observations: Tensor, actions: Tensor) -> Tensor:
        """observations (B, T, obs_dim), actions (B, T, action_dim) -> (B, T, context_dim).

        actions[:, t] is the action taken before observations[:, t] (a_{t-1}).
        """
        obs = self.obs_proj(observations)
        act = self.action_proj(actions)
        if self.uses_positions:
            positions = sinusoidal_positions(obs.shape[1], self.context_dim, obs.device)
            obs, act = obs + positions, act + positions
        cross = self.cfg.kind == "cross_transformer"
        return self.norm(self.core(act, obs) if cross else self.core(obs + act))


def build_temporal_encoder(
    cfg: TemporalConfig, obs_dim: int, action_dim: int
) -> HistoryEncoder | None:
    """The configured history encoder, or None when temporal.kind is 'none'."""
    if cfg.kind == "none":
        return None
    return HistoryEncoder(cfg, obs_dim, action_dim)
