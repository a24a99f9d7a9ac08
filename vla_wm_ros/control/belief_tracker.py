"""The state estimator's belief lifecycle, without ROS: frames, joints and actions in,
one latent estimate out per frame (or per missed frame).

The RSSM filter keeps its belief across ticks (fixing the seed's re-encode-from-zero,
defect 5): every frame folds (previous belief, executed action, new image features and
proprioception) into a posterior. When no frame comes for `frame_timeout` it predicts
with the prior alone (predicted_only, frames_missed counting up), and after
`max_predicted_steps` such guesses it withholds the belief, so the planner's watchdog
holds the robot instead of acting on a belief with nothing behind it. A new goal resets
the belief (from the latest frame, when it is recent). Bad input goes to `reject(what,
reason)` and changes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from vla_wm_ros.control.model_runtime import ModelRuntime


@dataclass
class Estimate:
    """One belief to publish, stamped with the frame it came from (`stamp` is opaque)."""

    goal_id: str
    step: int
    predicted_only: bool
    frames_missed: int
    deter: np.ndarray
    stoch: np.ndarray
    proprio: np.ndarray
    stamp: object


class BeliefTracker:
    """The belief of one robot for the current goal, carried from frame to frame."""

    def __init__(
        self,
        model: ModelRuntime,
        proprio_joints: list[str],
        frame_timeout: float,
        max_predicted_steps: int,
        reject: Callable[[str, str], None],
        pose_source: bool = False,
    ) -> None:
        self.model = model
        # The end-effector x, y, z come from a pose (set_pose), the rest from joint states.
        self._pose_source = pose_source
        self._pose: np.ndarray | None = None
        self._filter = model.belief_filter()
        self._joints = list(proprio_joints)
        self._frame_timeout = frame_timeout
        self._max_predicted = max_predicted_steps
        self._reject = reject
        self.goal_id = ""
        self._proprio: np.ndarray | None = None
        self._action = np.zeros(model.action_dim, dtype=np.float32)
        self._frame: tuple[np.ndarray, object, float] | None = None  # (features, stamp, t)
        self._stamp: object = None
        self._last_step = -float("inf")
        self.frames_missed = 0
        self.posteriors = 0
        self.priors = 0

    # -- inputs ----------------------------------------------------------------------------

    def set_pose(self, xyz: list[float]) -> None:
        """The measured end-effector position (m, base frame), with pose_source."""
        values = np.asarray(xyz, dtype=np.float64)
        if values.shape != (3,) or not np.all(np.isfinite(values)):
            self._reject("ee_pose", f"expected 3 finite values, got {list(xyz)}")
            return
        self._pose = values

    def set_joint_states(self, names: list[str], positions: list[float]) -> None:
        """The proprioception: `proprio_joints` picked by name, or every position in order;
        with pose_source, after the end-effector x, y, z of the latest pose."""
        if self._joints:
            index = {name: i for i, name in enumerate(names)}
            missing = [n for n in self._joints if n not in index]
            if missing or len(positions) != len(names):
                reason = (
                    f"missing joints {', '.join(missing)}"
                    if missing
                    else f"{len(names)} names but {len(positions)} positions"
                )
                self._reject("joint_states", reason)
                return
            values = np.array([positions[index[n]] for n in self._joints])
        else:
            values = np.asarray(positions, dtype=np.float64)
        expected = self.model.proprio_dim - 3 * self._pose_source
        if values.size != expected:
            self._reject("joint_states", f"{values.size} positions, the model takes {expected}")
            return
        if self._pose_source:
            if self._pose is None:
                self._reject("joint_states", "no end-effector pose received yet")
                return
            values = np.concatenate([self._pose, values])
        if not np.all(np.isfinite(values)):
            bad = [str(i) for i in np.flatnonzero(~np.isfinite(values))]
            self._reject("joint_states", f"non-finite position(s) at {', '.join(bad)}")
            return
        self._proprio = values.astype(np.float32)

    def set_action(self, values: list[float]) -> None:
        """The action the planner executed: the previous action of the next filter step."""
        action = np.asarray(values, dtype=np.float32)
        if action.shape != (self.model.action_dim,) or not np.all(np.isfinite(action)):
            self._reject(
                "executed_action",
                f"expected {self.model.action_dim} finite values, got {list(values)[:8]}",
            )
            return
        self._action = action

    def add_frame(self, encoder_id: str, features: list[float], stamp: object) -> Estimate | None:
        """A camera frame's image features: the posterior of the new belief."""
        if encoder_id != self.model.encoder_id:
            self._reject(
                "embedding", f"from encoder {encoder_id!r}, this model is {self.model.encoder_id!r}"
            )
            return None
        embedding = np.asarray(features, dtype=np.float32)
        if embedding.size != self.model.embedding_dim or not np.all(np.isfinite(embedding)):
            self._reject(
                "embedding",
                f"{embedding.size} values (finite: {bool(np.all(np.isfinite(embedding)))}), "
                f"expected {self.model.embedding_dim} finite",
            )
            return None
        self._frame = (embedding, stamp, time.monotonic())
        return self._fold_frame()

    def set_goal(self, goal_id: str) -> Estimate | None:
        """A new goal resets the belief, started from the newest frame if it is current."""
        self.goal_id = goal_id
        self._filter.reset()
        self._action = np.zeros(self.model.action_dim, dtype=np.float32)
        self.frames_missed = 0
        self._last_step = -float("inf")
        if self._frame is not None and time.monotonic() - self._frame[2] <= self._frame_timeout:
            return self._fold_frame()
        return None

    # -- filter ----------------------------------------------------------------------------

    def _fold_frame(self) -> Estimate | None:
        if self._proprio is None:
            self._reject("embedding", "no joint_states received yet")
            return None
        embedding, stamp, _ = self._frame
        state = self._filter.update(embedding, self._proprio, self._action)
        self._stamp = stamp
        self.frames_missed = 0
        self.posteriors += 1
        return self._estimate(state, predicted_only=False)

    def predict_if_late(self) -> Estimate | None:
        """Called often: the prior step when no frame came for `frame_timeout`, until
        `max_predicted_steps` of them; then nothing (the belief is withheld)."""
        if not self._filter.started or time.monotonic() - self._last_step < self._frame_timeout:
            return None
        if self.frames_missed >= self._max_predicted:
            return None
        state = self._filter.predict(self._action)
        self.frames_missed += 1
        self.priors += 1
        return self._estimate(state, predicted_only=True)

    def _estimate(self, state, predicted_only: bool) -> Estimate:
        deter, stoch = self.model.state_to_arrays(state)
        self._last_step = time.monotonic()
        return Estimate(
            goal_id=self.goal_id,
            step=self._filter.steps - 1,
            predicted_only=predicted_only,
            frames_missed=self.frames_missed,
            deter=deter,
            stoch=stoch,
            proprio=self._proprio,
            stamp=self._stamp,
        )

    # -- health ----------------------------------------------------------------------------

    def health(self) -> tuple[str, str, dict]:
        """(level 'ok' | 'warn' | 'error', message, values) for /diagnostics."""
        values = {
            "goal_id": self.goal_id or "-",
            "posterior_steps": self.posteriors,
            "prior_only_steps": self.priors,
            "frames_missed": self.frames_missed,
        }
        if not self._filter.started:
            return "warn", "waiting for the first frame", values
        if self.frames_missed >= self._max_predicted:
            return "error", "no frames: belief withheld", values
        if self.frames_missed:
            return "warn", "frames late: predicting with the prior", values
        return "ok", "filtering", values
