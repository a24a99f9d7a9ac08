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
from vla_wm_ros.planning.precision import planning_model
from vla_wm_ros.planning.result import PlanResult


class Planner(Protocol):
    """plan() returns by `deadline` (time.monotonic()) with the best answer so far."""

    name: str

    def plan(self, belief: Any, goal: Tensor, deadline: float | None = None) -> PlanResult: ...

    def reset(self) -> None: ...


def build_planner(cfg: PlannerConfig, model: PlanningModel) -> Planner:
    """The planner `cfg.kind` over `model`, with the shared safety settings.

    MPPI and CEM plan over `model` in `cfg.precision` (planning/precision.py); gradient
    MPC needs autograd and the hierarchical planner hands the slow level's imagined path
    to it, so both keep `model` as given.
    """
    if cfg.kind == "gradient":
        return GradientMPC(model, cfg.gradient, cfg.safety)
    if cfg.kind == "hierarchical":
        slow_cls = MPPIPlanner if cfg.hierarchical.slow == "mppi" else CEMPlanner
        slow = slow_cls(model, getattr(cfg, cfg.hierarchical.slow), cfg.safety)
        fast = GradientMPC(model, cfg.gradient, cfg.safety)
        return HierarchicalPlanner(slow, fast, cfg.hierarchical)
    sampling_model = planning_model(model, cfg.precision, cfg.compiled_rollout)
    if cfg.kind == "mppi":
        return MPPIPlanner(sampling_model, cfg.mppi, cfg.safety)
    return CEMPlanner(sampling_model, cfg.cem, cfg.safety)
