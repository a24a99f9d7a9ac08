"""MPPI over the latent model (TD-MPC2 style: elites, softmax weights, std bounds)."""

from __future__ import annotations

import torch
from torch import Tensor

from vla_wm_ros.planning.config import MPPIConfig, SafetyConfig
from vla_wm_ros.planning.model import PlanningModel
from vla_wm_ros.planning.sampling import SamplingPlanner


class MPPIPlanner(SamplingPlanner):
    """Elites weighted by softmax(return / temperature): smooth, uses every elite."""

    name = "mppi"

    def __init__(self, model: PlanningModel, cfg: MPPIConfig, safety: SafetyConfig):
        super().__init__(model, cfg, safety)
        self._inv_temperature = 1.0 / cfg.temperature

    def elite_weights(self, elite_returns: Tensor) -> Tensor:
        return torch.softmax((elite_returns - elite_returns[0]) * self._inv_temperature, dim=0)
