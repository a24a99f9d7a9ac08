"""Hierarchical planning: a slow sampling planner sets latent subgoals, gradient MPC
tracks them.

Every `subgoal_every` ticks the slow level plans towards the language goal and imagines
its plan forward that many steps: the imagined features are the path and its end the
subgoal. On every tick the fast level (gradient MPC) tracks the rest of that path, so the
expensive goal-directed search runs once per subgoal instead of once per tick.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import torch
from torch import Tensor

from vla_wm_ros.planning.config import HierarchicalConfig
from vla_wm_ros.planning.gradient_mpc import GradientMPC
from vla_wm_ros.planning.model import belief_feature
from vla_wm_ros.planning.result import PlanResult
from vla_wm_ros.planning.sampling import SamplingPlanner


class HierarchicalPlanner:
    """plan(belief, goal, deadline) with a language goal, like the flat planners."""

    name = "hierarchical"

    def __init__(self, slow: SamplingPlanner, fast: GradientMPC, cfg: HierarchicalConfig):
        if slow.cfg.horizon < cfg.subgoal_every:
            raise ValueError(
                f"hierarchical: subgoal_every ({cfg.subgoal_every}) exceeds the slow "
                f"planner's horizon ({slow.cfg.horizon})"
            )
        self.slow, self.fast, self.cfg = slow, fast, cfg
        self.model = slow.model
        self._path: Tensor | None = None  # (k, F) imagined features towards the subgoal
        self._age = 0
        self._slow_result: PlanResult | None = None
        self._fast_ms = 0.0

    @property
    def subgoal(self) -> Tensor | None:
        """The current latent subgoal (F,), None before the first plan."""
        return None if self._path is None else self._path[-1]

    def reset(self) -> None:
        self.slow.reset()
        self.fast.reset()
        self._path = None
        self._age = 0

    def plan(self, belief: Any, goal: Tensor, deadline: float | None = None) -> PlanResult:
        start = time.monotonic()
        iterations, slow_note = 0, ""
        if self._path is None or self._age >= self.cfg.subgoal_every:
            slow_deadline = None if deadline is None else deadline - self._fast_ms / 1e3
            slow = self.slow.plan(belief, goal, slow_deadline)
            if slow.status == "uncertain":
                self._path = None
                return replace(slow, elapsed_ms=(time.monotonic() - start) * 1e3)
            self._path = self._imagine_path(belief_feature(self.model, belief), slow)
            self._age, self._slow_result, iterations = 0, slow, slow.iterations
            if slow.status == "deadline":
                slow_note = f"subgoal planning cut short ({slow.reason}); "
        fast = self.fast.plan(belief, self._path[self._age :], deadline)
        self._fast_ms = fast.elapsed_ms
        self._age += 1
        slow = self._slow_result
        status = "deadline" if slow_note and fast.status == "ok" else fast.status
        return replace(
            fast,
            expected_return=slow.expected_return,
            predicted_reward=slow.predicted_reward,
            uncertainty=max(slow.uncertainty, fast.uncertainty),
            iterations=iterations + fast.iterations,
            elapsed_ms=(time.monotonic() - start) * 1e3,
            status=status,
            reason=(slow_note + fast.reason).rstrip("; "),
        )

    def _imagine_path(self, f0: Tensor, slow: PlanResult) -> Tensor:
        """Features of the slow plan imagined `subgoal_every` steps ahead from the belief
        (the action it sent, held, when it had no time for one iteration)."""
        model, k = self.model, self.cfg.subgoal_every
        with torch.inference_mode():
            if slow.iterations:
                plan = self.slow.mean_plan
            else:
                sent = torch.as_tensor(slow.action, device=model.action_low.device)
                plan = sent.to(model.action_low.dtype).expand(k, -1)
            feature, path = f0, []
            for t in range(k):
                feature = model.imagine_step(feature, plan[t : t + 1])
                path.append(feature)
            return torch.cat(path).clone()
