"""The sampling planners' refit: the elites of one iteration -> the next mean and std.

One function for the eager loop (planning/sampling.py) and the compiled whole-plan graph
(planning/compiled_graphs.py), so that both refit alike.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor


def elite_refit(
    actions: Tensor,
    returns: Tensor,
    elites: int,
    elite_weights: Callable[[Tensor], Tensor],
    min_std: float,
    max_std: float,
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """(H, N, A) actions and their (N,) returns -> the elites' returns (best first), their
    indices, refit weights, and the weighted mean (H, 1, A) and std (H, 1, A) (std within
    [min_std, max_std])."""
    elite_returns, index = torch.topk(returns, elites, sorted=True)
    weights = elite_weights(elite_returns)
    chosen = actions.index_select(1, index)
    w = weights.view(1, -1, 1)
    mean = torch.sum(chosen * w, dim=1, keepdim=True)
    spread = ((chosen - mean).square() * w).sum(dim=1, keepdim=True).sqrt()
    return elite_returns, index, weights, mean, spread.clamp(min_std, max_std)
