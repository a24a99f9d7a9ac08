"""`MetaWorldEnv`: one Meta-World v3 task with seeded placement, RGB camera and proprioception.

Models see only `Observation` (image + proprioception). The full Meta-World state vector
(39 floats: hand, gripper, object poses, goal) is exposed as `env.state` for the scripted
experts and for logging, never as a model input.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, NamedTuple

import mujoco
import numpy as np

from vla_wm_ros.sim.camera import camera_fovy, pinhole_intrinsics
from vla_wm_ros.sim.config import SimConfig
from vla_wm_ros.sim.rendering import OffscreenRenderer, resize_site
from vla_wm_ros.sim.tasks import check_task, env_id

PROPRIO_NAMES = ("hand_x", "hand_y", "hand_z", "gripper_opening")
ACTION_NAMES = ("delta_x", "delta_y", "delta_z", "gripper_effort")


class Observation(NamedTuple):
    image: np.ndarray | None  # (H, W, 3) uint8; None when rendering is off
    proprio: np.ndarray  # (P,) float32: hand xyz (m) + gripper opening in [0, 1]


class StepResult(NamedTuple):
    obs: Observation
    reward: float
    success: bool
    done: bool  # the step limit was reached (Meta-World never terminates early)
    info: dict[str, Any]


class MetaWorldEnv:
    """A Meta-World task by name ("drawer-open"), reset with a seed, stepped with its action.

    `reset(seed)` re-seeds the placement of objects and goal (same seed -> same scene, same
    pixels); `reset()` without a seed draws the next placement from the current stream.
    """

    def __init__(
        self,
        task: str = SimConfig.task,
        seed: int = SimConfig.seed,
        image_size: int = SimConfig.image_size,
        camera: str = SimConfig.camera,
        max_steps: int = SimConfig.max_steps,
        render: bool = SimConfig.render,
        config: SimConfig | None = None,
        goal_marker_radius: float | None = SimConfig.goal_marker_radius,
    ) -> None:
        if config is None:
            config = SimConfig(
                task=task,
                seed=seed,
                image_size=image_size,
                camera=camera,
                max_steps=max_steps,
                render=render,
                goal_marker_radius=goal_marker_radius,
            )
        config.validate()
        self.config = replace(config, task=check_task(config.task))
        from metaworld.env_dict import ALL_V3_ENVIRONMENTS_GOAL_OBSERVABLE

        cls = ALL_V3_ENVIRONMENTS_GOAL_OBSERVABLE[env_id(self.task) + "-goal-observable"]
        self._env = cls(seed=config.seed)
        # Random placement on every reset, drawn from the env's own seeded generator.
        self._env._freeze_rand_vec = False
        self._env.seeded_rand_vec = True
        self._env.max_path_length = config.max_steps
        if config.goal_marker_radius is not None:
            resize_site(self._env.model, "goal", config.goal_marker_radius)
        self._renderer = (
            OffscreenRenderer(
                self._env.model,
                self._env.data,
                config.image_size,
                config.camera,
                config.orbit,
                config.multisamples,
            )
            if config.render
            else None
        )
        space = self._env.action_space
        self.action_space_low = np.asarray(space.low, dtype=np.float32)
        self.action_space_high = np.asarray(space.high, dtype=np.float32)
        self.action_dim = int(self.action_space_low.shape[0])
        self.proprio_dim = len(PROPRIO_NAMES)
        self.proprio_names = PROPRIO_NAMES
        self.action_names = ACTION_NAMES[: self.action_dim]
        self.max_steps = config.max_steps
        self.fps = 1.0 / float(self._env.dt)
        self.steps = 0
        self._state: np.ndarray | None = None
        self._env.seed(config.seed)

    @classmethod
    def from_config(cls, config: SimConfig) -> MetaWorldEnv:
        return cls(config=config)

    @property
    def task(self) -> str:
        return self.config.task

    @property
    def state(self) -> np.ndarray:
        """Full Meta-World observation vector (39,) float64: for experts, not for models."""
        if self._state is None:
            raise RuntimeError("call reset() before reading the state")
        return self._state

    @property
    def grip_point(self) -> np.ndarray:
        """Midpoint of the two fingertips (x, y, z in metres, world frame): the point
        Meta-World's reach and grasp success tests measure, ~4.5 cm below the hand
        position that `state[:3]` reports."""
        return np.asarray(self._env.tcp_center, dtype=np.float64).copy()

    @property
    def state_dim(self) -> int:
        return int(self._env.observation_space.shape[0])

    @property
    def placement(self) -> np.ndarray:
        """The random vector that placed object(s) and goal at the last reset."""
        return np.array(self._env._last_rand_vec, dtype=np.float64)

    def render(self) -> np.ndarray:
        """The camera image of the current state, rendered again (benchmarks, displays)."""
        if self._renderer is None:
            raise RuntimeError(f"{self.task}: rendering is off (render=False)")
        return self._renderer.render(self._env.data)

    def camera_intrinsics(self, width: int, height: int) -> tuple[float, ...]:
        """(fx, fy, cx, cy) of the rendering camera for a `width` x `height` image."""
        fovy = camera_fovy(self._env.model, self.config.camera)
        return pinhole_intrinsics(fovy, width, height)

    def _observe(self) -> Observation:
        image = self._renderer.render(self._env.data) if self._renderer else None
        proprio = self._state[: self.proprio_dim].astype(np.float32)
        return Observation(image=image, proprio=proprio)

    def reset(self, seed: int | None = None) -> Observation:
        if seed is not None:
            self._env.seed(int(seed))
        self._env.reset()
        # Meta-World places fixtures (model.body_pos) and the goal site after its last
        # kinematics pass, so the first frame drew the previous placement's box, window or
        # goal marker (up to ~20 cm off) and the state read stale handle poses. One pass
        # more and both describe the new placement; physics is unchanged.
        mujoco.mj_forward(self._env.model, self._env.data)
        state = self._env._get_obs()
        state[18:36] = state[:18]  # Meta-World's reset convention: no previous frame yet
        self._state = np.asarray(state, dtype=np.float64)
        self.steps = 0
        return self._observe()

    def step(self, action: np.ndarray) -> StepResult:
        if self._state is None:
            raise RuntimeError("call reset() before step()")
        if self.steps >= self.max_steps:
            raise RuntimeError(f"episode is over after {self.max_steps} steps; call reset()")
        action = np.asarray(action, dtype=np.float32)
        if action.shape != (self.action_dim,):
            raise ValueError(f"action: expected shape ({self.action_dim},), got {action.shape}")
        if not np.all(np.isfinite(action)):
            raise ValueError(f"action: contains NaN or inf: {action}")
        action = np.clip(action, self.action_space_low, self.action_space_high)
        state, reward, _terminated, _truncated, info = self._env.step(action)
        self._state = np.asarray(state, dtype=np.float64)
        self.steps += 1
        success = bool(info.get("success", False))
        info = {k: float(v) for k, v in info.items()}
        return StepResult(
            obs=self._observe(),
            reward=float(reward),
            success=success,
            done=self.steps >= self.max_steps,
            info=info,
        )

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
        self._env.close()

    def __enter__(self) -> MetaWorldEnv:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
