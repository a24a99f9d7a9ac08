"""The state estimator's belief lifecycle, without ROS: frames, joints and actions in, one
latent estimate out per frame (or per missed frame).

The RSSM filter keeps its belief across ticks (fixing the seed's re-encode-from-zero,
defect 5): every frame folds (previous belief, executed action, new image features and
proprioception) into a posterior. The proprioception folded with a frame is the newest
joint state measured at or before the frame's own stamp (as recordings are paired for
training), not whichever came last: the encoder's latency would otherwise pair each
image with joints measured tens of milliseconds later, by an amount that depends on the
CPU's load. When no frame comes for `frame_timeout` on the node clock (the clock the
frames are stamped on: simulated time under use_sim_time, so a simulator that waits for
the planner never looks late) it predicts with the prior alone (predicted_only,
frames_missed counting up), and after `max_predicted_steps` such guesses it withholds
the belief, so the planner's watchdog holds the robot instead of acting on a belief with
nothing behind it. A new goal resets the belief (from the latest frame, when its stamp
is within `frame_timeout` of the node clock). Bad input goes to `reject(what, reason)`
and changes nothing: values are checked as float32 (control/input_checks), frame stamps
against the node clock, and a belief is withheld while the joint states or the executed
action are older than their limits. A belief that turns non-finite resets itself (the
next frame starts a new one) and says so.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from vla_wm_ros.control.input_checks import StampCheck, StreamLimits, as_model_values
from vla_wm_ros.control.model_runtime import ModelRuntime

# Joint states kept for pairing with frames by stamp: ~1 s at 100 Hz covers the latency
# of an image encoder on a loaded CPU.
JOINT_HISTORY = 100


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
        limits: StreamLimits,
        clock: Callable[[], float],
        pose_source: bool = False,
    ) -> None:
        """`clock`: the node clock in seconds (what frame stamps are on)."""
        self.model = model
        self._limits = limits
        self._clock = clock
        self._stamps = StampCheck(limits.max_frame_age, limits.max_stamp_lead)
        self._proprio_time = -float("inf")
        self._action_time = -float("inf")
        self.stale = ""  # why the belief is withheld now ("" when it is not)
        self.belief_resets = 0
        # The end-effector x, y, z come from a pose (set_pose), the rest from joint states.
        self._pose_source = pose_source
        self._pose: np.ndarray | None = None
        self._pose_time = -float("inf")
        self._filter = model.belief_filter()
        self._joints = list(proprio_joints)
        self._frame_timeout = frame_timeout
        self._max_predicted = max_predicted_steps
        self._reject = reject
        self.goal_id = ""
        self._proprio: np.ndarray | None = None  # the latest joint state
        # (node-clock seconds, values) of recent joint states; 0 s: unstamped
        self._joint_history: deque[tuple[float, np.ndarray]] = deque(maxlen=JOINT_HISTORY)
        self.joint_skew = 0.0  # seconds between the last frame and the joints it took
        self._action = np.zeros(model.action_dim, dtype=np.float32)
        # (features, stamp, its seconds on the node clock)
        self._frame: tuple[np.ndarray, object, float] | None = None
        self._stamp: object = None
        self._last_step = -float("inf")
        self.frames_missed = 0
        self.posteriors = 0
        self.priors = 0

    # -- inputs ----------------------------------------------------------------------------

    def set_pose(self, xyz: list[float]) -> None:
        """The measured end-effector position (m, base frame), with pose_source."""
        values, problem = as_model_values(xyz, "value(s)")
        if values.shape != (3,) or problem:
            self._reject("ee_pose", problem or f"expected 3 values, got {values.size}")
            return
        self._pose, self._pose_time = values, time.monotonic()

    def set_joint_states(
        self, names: list[str], positions: list[float], seconds: float = 0.0
    ) -> None:
        """The proprioception, measured at `seconds` on the node clock (0: unstamped):
        `proprio_joints` picked by name, or every position in order (unnamed positions
        are taken in order only when `proprio_joints` is empty); with pose_source, after
        the end-effector x, y, z of the latest pose."""
        if (names or self._joints) and len(positions) != len(names):
            self._reject("joint_states", f"{len(names)} names but {len(positions)} positions")
            return
        if self._joints:
            index = {name: i for i, name in enumerate(names)}
            missing = [n for n in self._joints if n not in index]
            if missing:
                self._reject("joint_states", f"missing joints {', '.join(missing)}")
                return
            positions = [positions[index[n]] for n in self._joints]
        expected = self.model.proprio_dim - 3 * self._pose_source
        if len(positions) != expected:
            self._reject("joint_states", f"{len(positions)} positions, the model takes {expected}")
            return
        if self._pose_source:
            if self._pose is None:
                self._reject("joint_states", "no end-effector pose received yet")
                return
            positions = [*self._pose, *positions]
        values, problem = as_model_values(positions, "position(s)")
        if problem:
            self._reject("joint_states", problem)
            return
        if self._joint_history and seconds < self._joint_history[-1][0]:
            self._joint_history.clear()  # the clock went back (a simulator restarted)
        self._proprio, self._proprio_time = values, time.monotonic()
        self._joint_history.append((seconds, values))

    def set_action(self, values: list[float]) -> None:
        """The action the planner executed: the previous action of the next filter step."""
        action, problem = as_model_values(values, "value(s)")
        if action.shape != (self.model.action_dim,) or problem:
            self._reject(
                "executed_action",
                problem or f"{action.size} values, the model takes {self.model.action_dim}",
            )
            return
        self._action, self._action_time = action, time.monotonic()

    def add_frame(
        self, encoder_id: str, features: list[float], stamp: object, seconds: float
    ) -> Estimate | None:
        """A camera frame's image features (`stamp` as given, `seconds` its time on the
        node clock): the posterior of the new belief."""
        if encoder_id != self.model.encoder_id:
            self._reject(
                "embedding", f"from encoder {encoder_id!r}, this model is {self.model.encoder_id!r}"
            )
            return None
        embedding, problem = as_model_values(features, "value(s)")
        if embedding.size != self.model.embedding_dim or problem:
            self._reject(
                "embedding",
                problem or f"{embedding.size} values, expected {self.model.embedding_dim}",
            )
            return None
        problem = self._stamps.check(seconds, self._clock())
        if problem:
            self._reject("embedding", problem)
            return None
        self._frame = (embedding, stamp, seconds)
        return self._fold_frame()

    def set_goal(self, goal_id: str) -> Estimate | None:
        """A new goal resets the belief, started from the newest frame if it is current."""
        self.goal_id = goal_id
        self._filter.reset()
        self._action = np.zeros(self.model.action_dim, dtype=np.float32)
        self.frames_missed = 0
        self._last_step = -float("inf")
        if self._frame is not None and self._clock() - self._frame[2] <= self._frame_timeout:
            return self._fold_frame()
        return None

    # -- filter ----------------------------------------------------------------------------

    def _stale_stream(self) -> str:
        """Why the belief must be withheld now: a stream older than its limit ("" if none).

        The executed action only matters once the belief has started (the first step's
        previous action is zero)."""
        now, limits = time.monotonic(), self._limits
        ages = [("joint_states", now - self._proprio_time, limits.max_joint_age)]
        if self._pose_source:
            ages.append(("ee_pose", now - self._pose_time, limits.max_joint_age))
        if self._filter.started:
            ages.append(("executed_action", now - self._action_time, limits.max_action_age))
        for stream, age, limit in ages:
            if age > limit:
                shown = "none received" if age == float("inf") else f"{age * 1e3:.0f} ms old"
                return f"{stream} stale ({shown}, limit {limit * 1e3:.0f} ms): belief withheld"
        return ""

    def _fold_frame(self) -> Estimate | None:
        if self._proprio is None:
            self._reject("embedding", "no joint_states received yet")
            return None
        self.stale = self._stale_stream()
        if self.stale:
            self._reject("embedding", self.stale)
            return None
        embedding, stamp, seconds = self._frame
        proprio = self._proprio_at(seconds)
        state = self._filter.update(embedding, proprio, self._action)
        self._stamp = stamp
        self.frames_missed = 0
        self.posteriors += 1
        return self._estimate(state, predicted_only=False, proprio=proprio)

    def _proprio_at(self, seconds: float) -> np.ndarray:
        """The newest joint state measured at or before `seconds` (as bag import pairs
        them, data/bag_reader), the earliest kept when all came later; the latest one
        when it or the frame is unstamped."""
        if seconds <= 0.0 or self._joint_history[-1][0] <= 0.0:
            self.joint_skew = 0.0
            return self._proprio
        stamped = [(t, values) for t, values in self._joint_history if t > 0.0]
        before = [pair for pair in stamped if pair[0] <= seconds]
        t, values = before[-1] if before else stamped[0]
        self.joint_skew = abs(seconds - t)
        return values

    def predict_if_late(self) -> Estimate | None:
        """Called often: the prior step when no frame came for `frame_timeout`, until
        `max_predicted_steps` of them; then nothing (the belief is withheld)."""
        if not self._filter.started or self._clock() - self._last_step < self._frame_timeout:
            return None
        if self.frames_missed >= self._max_predicted:
            return None
        self.stale = self._stale_stream()
        if self.stale:
            return None
        state = self._filter.predict(self._action)
        self.frames_missed += 1
        self.priors += 1
        return self._estimate(state, predicted_only=True)

    def _estimate(
        self, state, predicted_only: bool, proprio: np.ndarray | None = None
    ) -> Estimate | None:
        deter, stoch = self.model.state_to_arrays(state)
        self._last_step = self._clock()
        if not (np.all(np.isfinite(deter)) and np.all(np.isfinite(stoch))):
            self._filter.reset()
            self.belief_resets += 1
            self._reject(
                "belief", "not finite after the filter step: reset, the next frame starts anew"
            )
            return None
        return Estimate(
            goal_id=self.goal_id,
            step=self._filter.steps - 1,
            predicted_only=predicted_only,
            frames_missed=self.frames_missed,
            deter=deter,
            stoch=stoch,
            proprio=self._proprio if proprio is None else proprio,
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
            "belief_resets": self.belief_resets,
            "joint_skew_ms": round(self.joint_skew * 1e3, 1),
        }
        if self.stale:
            return "error", self.stale, values
        if not self._filter.started:
            return "warn", "waiting for the first frame", values
        if self.frames_missed >= self._max_predicted:
            return "error", "no frames: belief withheld", values
        if self.frames_missed:
            return "warn", "frames late: predicting with the prior", values
        return "ok", "filtering", values
