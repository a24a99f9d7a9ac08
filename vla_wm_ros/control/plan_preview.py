"""What the planner imagines, as an end-effector path: for plan visualisation.

From the belief the plan was made on, the RSSM prior is rolled forward with the chosen
plan's actions (the sampling planners expose their sequence; otherwise the sent action
then the actor's), and each imagined latent is decoded by the world model's
proprioception head (end-effector x, y, z in metres, the robot base frame) and scored by
its reward head. ROS-free; the planner node turns it into nav_msgs/Path and a
visualization_msgs/MarkerArray (ros/plan_markers.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from vla_wm_ros.control.model_runtime import ModelRuntime


@dataclass
class PlanPreview:
    positions: np.ndarray  # (H + 1, 3) m: the belief's decoded position, then each step's
    rewards: np.ndarray  # (H,) predicted reward of arriving at each imagined step
    source: str  # "plan": the planner's own sequence; "actor": sent action, then the actor


def can_preview(model: ModelRuntime) -> bool:
    """Whether the model decodes proprioception with at least x, y, z."""
    head = model.world_model.decoder.proprio
    return head is not None and model.world_model.cfg.proprio_dim >= 3


@torch.no_grad()
def imagine_path(
    model: ModelRuntime,
    deter: np.ndarray,
    stoch: np.ndarray,
    goal: np.ndarray,
    first_action: np.ndarray,
    plan: np.ndarray | None,
    horizon: int,
) -> PlanPreview:
    """The imagined path from belief (deter, stoch) towards `goal` over `horizon` steps."""
    wm = model.world_model
    state = model.state_from_arrays(deter, stoch)
    goal_t = model.tensor(goal)
    steps = len(plan) if plan is not None else horizon
    feature = wm.feature(state)
    positions = [wm.decoder.proprio(feature)[0, :3]]
    rewards = []
    for t in range(steps):
        if plan is not None:
            action = model.tensor(plan[t])
        elif t == 0:
            action = model.tensor(first_action)
        else:
            action = wm.actor(feature, goal_t).mode
        state = wm.rssm.imagine_step(state, action, sample=False)
        feature = wm.feature(state)
        positions.append(wm.decoder.proprio(feature)[0, :3])
        rewards.append(wm.reward(feature, goal_t).reshape(-1)[0])
    return PlanPreview(
        positions=torch.stack(positions).float().cpu().numpy().astype(np.float64),
        rewards=torch.stack(rewards).float().cpu().numpy().astype(np.float64),
        source="plan" if plan is not None else "actor",
    )
