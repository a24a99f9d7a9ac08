"""Latent-space planning (ROS-free): MPPI, CEM, gradient MPC, uncertainty-aware and
hierarchical planning behind one `plan(belief, goal, deadline)` interface."""

from vla_wm_ros.planning.cem import CEMPlanner
from vla_wm_ros.planning.config import (
    CEMConfig,
    GradientMPCConfig,
    HierarchicalConfig,
    MPPIConfig,
    PlannerConfig,
    SafetyConfig,
    SamplingConfig,
    load_planner_preset,
)
from vla_wm_ros.planning.gradient_mpc import GradientMPC
from vla_wm_ros.planning.hierarchical import HierarchicalPlanner
from vla_wm_ros.planning.model import PlanningModel
from vla_wm_ros.planning.mppi import MPPIPlanner
from vla_wm_ros.planning.planner import Planner, build_planner
from vla_wm_ros.planning.result import PlanResult

__all__ = [
    "CEMConfig",
    "CEMPlanner",
    "GradientMPC",
    "GradientMPCConfig",
    "HierarchicalConfig",
    "HierarchicalPlanner",
    "MPPIConfig",
    "MPPIPlanner",
    "PlanResult",
    "Planner",
    "PlannerConfig",
    "PlanningModel",
    "SafetyConfig",
    "SamplingConfig",
    "build_planner",
    "load_planner_preset",
]
