"""What chooses the action on a control tick, by the planner node's `mode` parameter.

- planner: the world-model planner (MPPI/CEM/gradient/hierarchical, with the actor as
  sampling prior) from vla_wm_ros.planning, against the tick's deadline;
- actor: the learned goal-conditioned actor alone (its mean action);
- random: uniform actions in [-1, 1]^A, the floor every evaluation compares with.

All three answer with a `Decision`, the fields of PlanStatus. ROS-free.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from vla_wm_ros.config import load_yaml
from vla_wm_ros.control.model_runtime import ModelRuntime
from vla_wm_ros.planning.config import PLANNER_PRESETS, PlannerConfig, load_planner_preset
from vla_wm_ros.planning.planner import build_planner
from vla_wm_ros.planning.world_model_adapter import WorldModelPlanningModel

MODES = ("planner", "actor", "random")


@dataclass
class Decision:
    action: np.ndarray
    status: str  # ok | deadline | uncertain | error | no_goal | stale_state
    reason: str
    planner: str
    expected_return: float = 0.0
    uncertainty: float = 0.0
    iterations: int = 0
    predicted_reward: float = 0.0


def safe_result(action: np.ndarray, status: str, reason: str) -> Decision:
    return Decision(action=action.copy(), status=status, reason=reason, planner="safe")


class ControlPolicy:
    """Base: remembers which goal its internal state (warm start) belongs to."""

    name = ""

    def __init__(self) -> None:
        self.goal_id: str | None = None

    def reset(self, goal_id: str) -> None:
        self.goal_id = goal_id

    def act(self, state, goal: np.ndarray, deadline: float) -> Decision:
        raise NotImplementedError

    def close(self) -> None:
        """Release what the policy holds beyond its weights (threads); none by default."""


class PlannerPolicy(ControlPolicy):
    def __init__(self, model: ModelRuntime, cfg: PlannerConfig) -> None:
        super().__init__()
        self._model = model
        self._planner = build_planner(
            cfg, WorldModelPlanningModel(model.world_model, units=model.units)
        )
        self.name = cfg.kind
        self._warm_up()

    def _warm_up(self) -> None:
        """One untimed plan at start-up: buffers, kernels and caches are built here, not
        on the first control tick (a cold first plan overran an 80 ms deadline by ~10x)."""
        wm = self._model.world_model
        param = next(wm.parameters())
        goal = torch.zeros(wm.cfg.goal_dim, device=param.device, dtype=param.dtype)
        for _ in range(2):  # the second, warm plan sets the planner's time estimate
            self._planner.plan(wm.rssm.initial(1, param.device), goal, None)
        self._planner.reset()

    def reset(self, goal_id: str) -> None:
        super().reset(goal_id)
        self._planner.reset()

    def act(self, state, goal: np.ndarray, deadline: float) -> Decision:
        result = self._planner.plan(state, self._model.tensor(goal)[0], deadline)
        return Decision(
            action=np.asarray(result.action, dtype=np.float64),
            status=result.status,
            reason=result.reason,
            planner=self.name,
            expected_return=result.expected_return,
            uncertainty=result.uncertainty,
            iterations=result.iterations,
            predicted_reward=result.predicted_reward,
        )


class ActorPolicy(ControlPolicy):
    name = "actor"

    def __init__(self, model: ModelRuntime) -> None:
        super().__init__()
        self._model = model

    @torch.no_grad()
    def act(self, state, goal: np.ndarray, deadline: float) -> Decision:
        wm = self._model.world_model
        feature = wm.feature(state)
        goal_t = self._model.tensor(goal)
        action = wm.actor(feature, goal_t).mode
        reward = wm.reward(wm.feature(wm.rssm.imagine_step(state, action, sample=False)), goal_t)
        return Decision(
            action=action[0].cpu().numpy().astype(np.float64),
            status="ok",
            reason="",
            planner=self.name,
            predicted_reward=float(reward[0]),
        )


class RandomPolicy(ControlPolicy):
    name = "random"

    def __init__(self, action_dim: int, seed: int) -> None:
        super().__init__()
        self._action_dim = action_dim
        self._rng = np.random.default_rng(seed)

    def act(self, state, goal: np.ndarray, deadline: float) -> Decision:
        action = self._rng.uniform(-1.0, 1.0, self._action_dim)
        return Decision(action=action, status="ok", reason="", planner=self.name)


def planner_config(kind: str, source: str) -> PlannerConfig:
    """A preset by name or a PlannerConfig YAML file (empty: the default preset), `kind` set."""
    source = source or "default"
    cfg = (
        load_planner_preset(source)
        if source in PLANNER_PRESETS
        else load_yaml(PlannerConfig, Path(source))
    )
    cfg.kind = kind
    return cfg


def make_policy(
    mode: str, model: ModelRuntime, kind: str, config_source: str, seed: int
) -> ControlPolicy:
    if mode == "planner":
        return PlannerPolicy(model, planner_config(kind, config_source))
    if mode == "actor":
        return ActorPolicy(model)
    if mode == "random":
        return RandomPolicy(model.action_dim, seed)
    raise ValueError(f"mode {mode!r} is not one of {', '.join(MODES)}")
