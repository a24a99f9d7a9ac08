"""state_estimator: Embedding + joint states + executed action -> LatentState.

The RSSM filter keeps its belief across ticks (fixing the seed's re-encode-from-zero,
defect 5): every frame folds (previous belief, executed action, new embedding and
proprioception) into a posterior. When no frame comes for `frame_timeout` it predicts
with the prior alone (predicted_only, frames_missed counting up), and after
`max_predicted_steps` such guesses it stops publishing, so the planner's watchdog holds
the robot instead of acting on a belief with nothing behind it. A new goal resets the
belief (from the latest frame, when it is recent).
"""

from __future__ import annotations

import time

import numpy as np
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray

from vla_wm_interfaces.msg import Embedding, Goal, LatentState
from vla_wm_ros.control.model_runtime import load_model_runtime
from vla_wm_ros.ros import diagnostics, qos
from vla_wm_ros.ros.node_main import run_node
from vla_wm_ros.ros.parameters import MODEL_PARAMETERS, Param, declare_parameters
from vla_wm_ros.ros.rejections import Rejections

PARAMETERS = [
    *MODEL_PARAMETERS,
    Param(
        "proprio_joints",
        [],
        "joint names taken from joint_states, in the model's order; empty: all, in order",
    ),
    Param(
        "frame_timeout",
        0.15,
        "seconds without a frame before the belief is advanced by the prior alone",
        low=0.005,
        high=10.0,
    ),
    Param(
        "max_predicted_steps",
        5,
        "prior-only steps in a row after which the belief is withheld",
        low=0,
        high=1000,
    ),
    Param("diagnostics_period", 1.0, "seconds between /diagnostics reports", low=0.1, high=60.0),
]


class StateEstimator(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__("state_estimator", **kwargs)
        self.p = declare_parameters(self, PARAMETERS)
        self._model = load_model_runtime(
            self.p.model_dir, self.p.device, self.p.backend, self.p.engine_cache
        )
        self._filter = self._model.belief_filter()
        self._rejections = Rejections(self.get_logger())
        self._goal_id = ""
        self._proprio: np.ndarray | None = None
        self._action = np.zeros(self._model.action_dim, dtype=np.float32)
        self._frame: tuple[np.ndarray, object, float] | None = None  # (embedding, stamp, t)
        self._stamp = None
        self._last_step = -float("inf")
        self._frames_missed = 0
        self._posteriors = 0
        self._priors = 0

        # One group for everything that touches the belief: updates never interleave.
        group = MutuallyExclusiveCallbackGroup()
        self._pub = self.create_publisher(LatentState, "~/latent", qos.STATE)
        self.create_subscription(
            Embedding, "embedding", self._on_embedding, qos.SENSOR, callback_group=group
        )
        self.create_subscription(
            JointState, "joint_states", self._on_joint_states, qos.STATE, callback_group=group
        )
        self.create_subscription(
            Float64MultiArray,
            "executed_action",
            self._on_executed_action,
            qos.COMMAND,
            callback_group=group,
        )
        self.create_subscription(Goal, "goal", self._on_goal, qos.GOAL, callback_group=group)
        self.create_timer(
            self.p.frame_timeout / 2,
            self._on_timer,
            group,
            clock=Clock(clock_type=ClockType.STEADY_TIME),
        )
        self._diagnostics = diagnostics.Diagnostics(self, self._report, self.p.diagnostics_period)

    # -- inputs ----------------------------------------------------------------------------

    def _on_joint_states(self, msg: JointState) -> None:
        if self.p.proprio_joints:
            index = {name: i for i, name in enumerate(msg.name)}
            missing = [n for n in self.p.proprio_joints if n not in index]
            if missing or len(msg.position) != len(msg.name):
                reason = (
                    f"missing joints {', '.join(missing)}"
                    if missing
                    else f"{len(msg.name)} names but {len(msg.position)} positions"
                )
                self._rejections.reject("joint_states", reason)
                return
            values = np.array([msg.position[index[n]] for n in self.p.proprio_joints])
        else:
            values = np.asarray(msg.position, dtype=np.float64)
        if values.size != self._model.proprio_dim:
            self._rejections.reject(
                "joint_states",
                f"{values.size} positions, the model takes {self._model.proprio_dim}",
            )
            return
        if not np.all(np.isfinite(values)):
            bad = [str(i) for i in np.flatnonzero(~np.isfinite(values))]
            self._rejections.reject("joint_states", f"non-finite position(s) at {', '.join(bad)}")
            return
        self._proprio = values.astype(np.float32)

    def _on_executed_action(self, msg: Float64MultiArray) -> None:
        action = np.asarray(msg.data, dtype=np.float32)
        if action.shape != (self._model.action_dim,) or not np.all(np.isfinite(action)):
            self._rejections.reject(
                "executed_action",
                f"expected {self._model.action_dim} finite values, got {list(msg.data)[:8]}",
            )
            return
        self._action = action

    def _on_embedding(self, msg: Embedding) -> None:
        if msg.encoder_id != self._model.encoder_id:
            self._rejections.reject(
                "embedding",
                f"from encoder {msg.encoder_id!r}, this model is {self._model.encoder_id!r}",
            )
            return
        embedding = np.asarray(msg.data, dtype=np.float32)
        if embedding.size != self._model.embedding_dim or not np.all(np.isfinite(embedding)):
            self._rejections.reject(
                "embedding",
                f"{embedding.size} values (finite: {bool(np.all(np.isfinite(embedding)))}), "
                f"expected {self._model.embedding_dim} finite",
            )
            return
        self._frame = (embedding, msg.header.stamp, time.monotonic())
        self._fold_frame()

    def _on_goal(self, msg: Goal) -> None:
        if msg.goal_id == self._goal_id:
            return
        self.get_logger().info(f"new goal {msg.goal_id} ({msg.task}): belief reset")
        self._goal_id = msg.goal_id
        self._filter.reset()
        self._action = np.zeros(self._model.action_dim, dtype=np.float32)
        self._frames_missed = 0
        self._last_step = -float("inf")
        # Start the new belief from the newest frame when it is still current.
        if self._frame is not None and time.monotonic() - self._frame[2] <= self.p.frame_timeout:
            self._fold_frame()

    # -- filter ----------------------------------------------------------------------------

    def _fold_frame(self) -> None:
        if self._proprio is None:
            self._rejections.reject("embedding", "no joint_states received yet")
            return
        embedding, stamp, _ = self._frame
        state = self._filter.update(embedding, self._proprio, self._action)
        self._stamp = stamp
        self._frames_missed = 0
        self._posteriors += 1
        self._publish(state, predicted_only=False)

    def _on_timer(self) -> None:
        if not self._filter.started or time.monotonic() - self._last_step < self.p.frame_timeout:
            return
        if self._frames_missed >= self.p.max_predicted_steps:
            return  # withheld: the planner's watchdog sees the belief go stale
        state = self._filter.predict(self._action)
        self._frames_missed += 1
        self._priors += 1
        self._publish(state, predicted_only=True)

    def _publish(self, state, predicted_only: bool) -> None:
        deter, stoch = self._model.state_to_arrays(state)
        msg = LatentState(
            goal_id=self._goal_id,
            step=self._filter.steps - 1,
            predicted_only=predicted_only,
            frames_missed=self._frames_missed,
        )
        msg.header.stamp = self._stamp
        msg.deter = deter.tolist()
        msg.stoch = stoch.tolist()
        msg.proprio = self._proprio.tolist()
        self._pub.publish(msg)
        self._last_step = time.monotonic()

    def _report(self) -> diagnostics.Report:
        values = {
            "goal_id": self._goal_id or "-",
            "posterior_steps": self._posteriors,
            "prior_only_steps": self._priors,
            "frames_missed": self._frames_missed,
            **self._rejections.report(),
        }
        if not self._filter.started:
            return diagnostics.WARN, "waiting for the first frame", values
        if self._frames_missed >= self.p.max_predicted_steps:
            return diagnostics.ERROR, "no frames: belief withheld", values
        if self._frames_missed:
            return diagnostics.WARN, "frames late: predicting with the prior", values
        return diagnostics.OK, "filtering", values


NODE_CLASS = StateEstimator


def main(args: list[str] | None = None) -> None:
    run_node(StateEstimator, args)


if __name__ == "__main__":
    main()
