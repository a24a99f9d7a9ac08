"""The simulator as a robot runs it, without ROS: episodes, held actions, simulated time.

What sim_bridge steps: reset to (task, seed) keeping the old environment when the new one
cannot be made; actions checked (size, finite) and clipped; in timer mode the last action
is held, and replaced by hold (zeros) once older than `action_timeout`; an ended episode
(success or step limit) does not step until the next reset. Each reset and step returns
the observation with its reward and success, stamped with the simulated time.

Goals: a new goal starts a fresh episode of its grounded task with the next seed, unless
an episode reset for evaluation (`reset(..., claimable=True)`: a chosen placement) waits
for a goal of that task; then the goal claims it. `goal_id` names the goal the running
episode serves.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from vla_wm_ros.sim.env import MetaWorldEnv, Observation


@dataclass
class Frame:
    """One observation to publish: what the robot sees and what the episode says."""

    obs: Observation
    reward: float
    success: bool
    sim_time_ns: int


class SimEpisode:
    """One Meta-World environment stepped as a robot is: `make_env(task, seed)` builds it."""

    def __init__(self, make_env: Callable[[str, int], MetaWorldEnv], action_timeout: float):
        self._make_env = make_env
        self._action_timeout = action_timeout
        self.env: MetaWorldEnv | None = None
        self.task = ""
        self.seed = 0
        self.step = 0
        self.done = False
        self.goal_id = ""
        self._claimable = False
        self._sim_time_ns = 0
        self._action = np.zeros(0)
        self._action_time = -float("inf")
        self.step_ms: list[float] = []

    def reset(self, task: str, seed: int, claimable: bool = False) -> Frame | str:
        """The first frame of (task, seed), or what went wrong (the environment unchanged).
        `claimable`: the next goal of this task takes this episode instead of a fresh one."""
        try:
            if self.env is None or task != self.task:
                env = self._make_env(task, seed)
                self.close()
                self.env, self.task = env, task
            obs = self.env.reset(seed=seed)
        except (ValueError, KeyError) as exc:
            return f"cannot reset to task {task!r} seed {seed}: {exc}"
        self.seed, self.step, self.done = seed, 0, False
        self.goal_id, self._claimable = "", claimable
        # A reset takes a step of simulated time: stamps stay increasing and never zero.
        self._sim_time_ns += round((1.0 / self.env.fps) * 1e9)
        self._action = np.zeros(self.env.action_dim)
        self._action_time = -float("inf")
        return Frame(obs, 0.0, False, self._sim_time_ns)

    def start_goal(self, goal_id: str, task: str) -> Frame | str | None:
        """Goal `goal_id` of `task` begins: None when it claims the waiting episode (or is
        already running), else the first frame of a fresh episode or why there is none."""
        if goal_id == self.goal_id:
            return None
        if self._claimable and task == self.task and not self.done:
            self._claimable, self.goal_id = False, goal_id
            return None
        frame = self.reset(task, self.seed + 1)
        if not isinstance(frame, str):
            self.goal_id = goal_id
        return frame

    def check_action(self, values: list[float]) -> np.ndarray | str:
        """The action clipped to [-1, 1], or why it is refused."""
        action = np.asarray(values, dtype=np.float64)
        if action.shape != (self.env.action_dim,):
            return f"{action.size} values, the {self.task} env takes {self.env.action_dim}"
        if not np.all(np.isfinite(action)):
            return "non-finite values"
        if self._claimable:
            # Sent for the previous goal (a planner still busy with its last belief when
            # the reset came): stepping with it would start the episode with a step no
            # tick of its goal chose, and only when the CPU was slow.
            return "the episode reset through ~/reset waits for its goal"
        return np.clip(action, -1.0, 1.0)

    def hold(self, action: np.ndarray) -> None:
        """Timer mode: the action to repeat on every step until a newer one comes."""
        self._action, self._action_time = action, time.monotonic()

    def step_held(self) -> Frame | None:
        """Timer mode: one step with the held action, or hold (zeros) when it is too old."""
        if self.done:
            return None
        fresh = time.monotonic() - self._action_time <= self._action_timeout
        return self.step_with(self._action if fresh else np.zeros_like(self._action))

    def step_with(self, action: np.ndarray) -> Frame | None:
        """One simulator step with `action`; None once the episode has ended."""
        if self.done:
            return None
        start = time.monotonic()
        result = self.env.step(action)
        self.step += 1
        self._sim_time_ns += round((1.0 / self.env.fps) * 1e9)
        self.done = bool(result.done or result.success)
        self.step_ms.append((time.monotonic() - start) * 1e3)
        del self.step_ms[:-100]
        return Frame(result.obs, float(result.reward), bool(result.success), self._sim_time_ns)

    def close(self) -> None:
        """Free the renderer's GL context (call while EGL is still up)."""
        if self.env is not None:
            self.env.close()
            self.env = None
