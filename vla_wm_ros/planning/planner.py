"""The one interface the planner node calls, and the factory that builds it from config."""

from __future__ import annotations

from typing import Any, Protocol

from torch import Tensor

from vla_wm_ros.planning.cem import CEMPlanner
from vla_wm_ros.planning.config import PlannerConfig
from vla_wm_ros.planning.gradient_mpc import GradientMPC
from vla_wm_ros.planning.hierarchical import HierarchicalPlanner
from vla_wm_ros.planning.model import PlanningModel
from vla_wm_ros.planning.mppi import MPPIPlanner
from vla_wm_ros.planning.result import PlanResult


class Planner(Protocol):
    """plan() returns by `deadline` (time.monotonic()) with the best answer so far."""

    name: str

    def plan(self, belief: Any, goal: Tensor, deadline: float | None = None) -> PlanResult: ...

    def reset(self) -> None: ...


def build_planner(cfg: PlannerConfig, model: PlanningModel) -> Planner:
    """The planner `cfg.kind` over `model`, with the shared safety settings."""
    if cfg.kind == "mppi":
        return MPPIPlanner(model, cfg.mppi, cfg.safety)
    if cfg.kind == "cem":
        return CEMPlanner(model, cfg.cem, cfg.safety)
    if cfg.kind == "gradient":
        return GradientMPC(model, cfg.gradient, cfg.safety)
    slow_cls = MPPIPlanner if cfg.hierarchical.slow == "mppi" else CEMPlanner
    slow = slow_cls(model, getattr(cfg, cfg.hierarchical.slow), cfg.safety)
    return HierarchicalPlanner(slow, GradientMPC(model, cfg.gradient, cfg.safety), cfg.hierarchical)
