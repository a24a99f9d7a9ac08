"""Meta-World (MuJoCo, Sawyer arm) behind one small env interface, plus its scripted experts.

ROS-free: the sim_bridge node wraps `MetaWorldEnv`; collection and evaluation use it directly.
Without a display, MuJoCo renders offscreen through EGL unless MUJOCO_GL says otherwise
(set here, before mujoco is imported: GLFW would fail with "DISPLAY is missing").
"""

import os

if not os.environ.get("DISPLAY"):
    os.environ.setdefault("MUJOCO_GL", "egl")

from vla_wm_ros.sim.config import OrbitCamera, SimConfig
from vla_wm_ros.sim.env import MetaWorldEnv, Observation, StepResult
from vla_wm_ros.sim.policies import expert_action, make_policy
from vla_wm_ros.sim.tasks import all_tasks, check_task, mt10_tasks

__all__ = [
    "MetaWorldEnv",
    "Observation",
    "OrbitCamera",
    "SimConfig",
    "StepResult",
    "all_tasks",
    "check_task",
    "expert_action",
    "make_policy",
    "mt10_tasks",
]
