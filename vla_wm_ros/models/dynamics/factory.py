"""One factory for the latent dynamics kinds of `DynamicsConfig.kind`."""

from __future__ import annotations

from torch import nn

from vla_wm_ros.config.model import DynamicsConfig
from vla_wm_ros.models.dynamics.ensemble import EnsembleDynamics
from vla_wm_ros.models.dynamics.flow import FlowDynamics
from vla_wm_ros.models.dynamics.mlp_dynamics import DeterministicDynamics, StochasticDynamics

KINDS: dict[str, type[nn.Module]] = {
    "deterministic": DeterministicDynamics,
    "stochastic": StochasticDynamics,
    "ensemble": EnsembleDynamics,
    "flow": FlowDynamics,
}


def build_dynamics(cfg: DynamicsConfig, state_dim: int, action_dim: int) -> nn.Module | None:
    """The configured model (forward -> dict with 'sample', loss(s, a, s')), or None."""
    if cfg.kind == "none":
        return None
    return KINDS[cfg.kind](cfg, state_dim, action_dim)
