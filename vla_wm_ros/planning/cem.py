"""Cross-entropy method over the latent model."""

from __future__ import annotations

import torch
from torch import Tensor

from vla_wm_ros.planning.sampling import SamplingPlanner


class CEMPlanner(SamplingPlanner):
    """The next distribution is the elites' plain mean and std."""

    name = "cem"

    def elite_weights(self, elite_returns: Tensor) -> Tensor:
        k = elite_returns.shape[0]
        return torch.full((k,), 1.0 / k, device=elite_returns.device, dtype=elite_returns.dtype)
