"""One episode in memory: per-step arrays plus its language instruction and task name.

Row t holds the observation at t, the action applied after observing it, and what that
action produced (`reward`, `success`, `done`, `terminated` are LeRobot's `next.*`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Episode:
    images: np.ndarray  # (T, H, W, 3) uint8 RGB
    state: np.ndarray  # (T, P) float32 proprioception
    action: np.ndarray  # (T, A) float32
    reward: np.ndarray  # (T,) float32
    success: np.ndarray  # (T,) bool: the task is solved after this step
    done: np.ndarray  # (T,) bool: the episode ends after this step (any reason)
    terminated: np.ndarray  # (T,) bool: a terminal state was reached (not a time limit)
    timestamp: np.ndarray  # (T,) float32 seconds since the episode started
    instruction: str
    task: str
    environment_state: np.ndarray | None = None  # (T, S) float32, simulator only
    seed: int | None = None
    policy: str = ""

    @property
    def length(self) -> int:
        return int(self.images.shape[0])

    def validate(self) -> None:
        """Raise ValueError naming the first field with a wrong shape or dtype."""
        t = self.length
        if t == 0:
            raise ValueError("episode has no frames")
        expect = {
            "images": (np.uint8, 4),
            "state": (np.float32, 2),
            "action": (np.float32, 2),
            "reward": (np.float32, 1),
            "success": (np.bool_, 1),
            "done": (np.bool_, 1),
            "terminated": (np.bool_, 1),
            "timestamp": (np.float32, 1),
        }
        if self.environment_state is not None:
            expect["environment_state"] = (np.float32, 2)
        for name, (dtype, ndim) in expect.items():
            value = getattr(self, name)
            if not isinstance(value, np.ndarray):
                raise ValueError(f"episode.{name}: expected a numpy array, got {type(value)}")
            if value.dtype != dtype or value.ndim != ndim or value.shape[0] != t:
                raise ValueError(
                    f"episode.{name}: expected {np.dtype(dtype).name} with {ndim} dims and "
                    f"{t} rows, got {value.dtype} {value.shape}"
                )
        if self.images.shape[-1] != 3:
            raise ValueError(f"episode.images: expected RGB (..., 3), got {self.images.shape}")
        for name in ("state", "action", "reward", "timestamp"):
            if not np.all(np.isfinite(getattr(self, name))):
                raise ValueError(f"episode.{name}: contains NaN or inf")
        if not self.instruction.strip():
            raise ValueError("episode.instruction: empty")
        if not self.task.strip():
            raise ValueError("episode.task: empty")
