"""A sampling plan run as one compiled graph, and when a plan may run that way.

A model that compiles the whole plan (planning/precision.py, compiled_graphs.compiled_plan)
saves the planner a graph call per iteration and the eager refits between them. The plan
by iterations stays: only it can stop between iterations or shrink its samples when time
runs short, so the whole graph runs only with every sample and when its measured time fits
the deadline, and only after a plan by iterations has measured (and compiled) the
iterations it would fall back to.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch
from torch import Tensor

from vla_wm_ros.planning.budget import updated_estimate
from vla_wm_ros.planning.config import SamplingConfig
from vla_wm_ros.planning.model import GoalContext
from vla_wm_ros.planning.score import Scores


class WholePlan:
    """The compiled whole-plan call with its noise buffer and its duration estimate."""

    def __init__(
        self,
        graph: Callable,
        cfg: SamplingConfig,
        noise_shape: tuple[int, ...],
        generator: torch.Generator,
        like: Tensor,
    ):
        self.graph = graph
        self.cfg = cfg
        self.ms: float | None = None  # whole plans' duration (budget.updated_estimate)
        self._generator = generator
        self._noise = torch.empty(
            cfg.iterations, *noise_shape, device=like.device, dtype=like.dtype
        )
        # Start mean = lerp(shifted previous plan, actor's mode trajectory, blend), by
        # whether there is a previous plan to warm-start from.
        blends = {False: 1.0, True: cfg.prior_weight}
        self._blend = {w: torch.full((1,), b).to(like) for w, b in blends.items()}

    def fits(
        self, samples: int, first_ms: float | None, iter_ms: float | None, deadline: float | None
    ) -> bool:
        """Whether a plan with `samples` runs as one graph: every sample, the iterations
        measured (`first_ms`, `iter_ms`), and the whole graph's measured time (before it
        ran: the iterations') ends before `deadline` (time.monotonic() seconds)."""
        if samples < self.cfg.samples or first_ms is None:
            return False
        if deadline is None:
            return True
        estimate = self.ms
        if estimate is None:
            estimate = first_ms + (self.cfg.iterations - 1) * (iter_ms or first_ms)
        return time.monotonic() + estimate / 1e3 <= deadline

    def run(
        self, f0: Tensor, context: GoalContext, previous: Tensor, warm: bool
    ) -> tuple[Scores, Tensor, Tensor, Tensor]:
        """The plan from (1, F) f0: the last iteration's scores, its actions (H, N, A) and
        the refit mean and std (H, 1, A); `previous` the last plan (H, 1, A), used when
        `warm`."""
        t0 = time.monotonic()
        noise = self._noise
        torch.randn(noise.shape, generator=self._generator, out=noise, dtype=noise.dtype)
        out = self.graph(f0, context, (previous, self._blend[warm]), noise)
        actions, returns, first_reward, elite_returns, index, weights, spread, mean, std = out
        self.ms = updated_estimate(self.ms, (time.monotonic() - t0) * 1e3)
        scores = Scores(returns, first_reward, elite_returns, index, weights, spread)
        return scores, actions, mean, std
