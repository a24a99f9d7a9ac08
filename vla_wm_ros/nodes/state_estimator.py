"""state_estimator: Embedding + joint states + executed action -> LatentState.

Messages in and out around control/belief_tracker.BeliefTracker, which keeps the RSSM
belief across frames, predicts with the prior when frames are late and withholds the
belief when too many are missing; a new goal resets it.
"""

from __future__ import annotations

from geometry_msgs.msg import PoseStamped
from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from rclpy.time import Time
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray

from vla_wm_interfaces.msg import Embedding, Goal, LatentState
from vla_wm_ros.control.belief_tracker import BeliefTracker, Estimate
from vla_wm_ros.control.input_checks import StreamLimits, goal_problem
from vla_wm_ros.control.model_runtime import load_model_runtime
from vla_wm_ros.ros import diagnostics, qos
from vla_wm_ros.ros.callback_guard import GuardedCallbacks
from vla_wm_ros.ros.node_main import run_node
from vla_wm_ros.ros.parameters import (
    MODEL_PARAMETERS,
    Param,
    config_from,
    declare_parameters,
    params_from,
)
from vla_wm_ros.ros.rejections import Rejections

PARAMETERS = [
    *MODEL_PARAMETERS,
    Param(
        "proprio_joints",
        [],
        "joint names taken from joint_states, in the model's order; empty: all, in order",
    ),
    Param(
        "proprio_source",
        "joint_states",
        "joint_states: every channel from joint_states; pose: end-effector x, y, z from the "
        "PoseStamped on ee_pose, the rest (proprio_joints) from joint_states",
        choices=("joint_states", "pose"),
    ),
    Param(
        "frame_timeout",
        0.15,
        "seconds on the node clock (simulated under use_sim_time) without a frame before "
        "the belief is advanced by the prior alone",
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
    *params_from(StreamLimits),
    Param("diagnostics_period", 1.0, "seconds between /diagnostics reports", low=0.1, high=60.0),
]


class StateEstimator(GuardedCallbacks, Node):
    def __init__(self, **kwargs) -> None:
        super().__init__("state_estimator", **kwargs)
        p = self.p = declare_parameters(self, PARAMETERS)
        model = load_model_runtime(p.model_dir, p.device, p.backend, p.engine_cache)
        self._rejections = Rejections(self.get_logger())
        self._model_goal_dim = model.goal_dim
        limits = config_from(StreamLimits, p)
        clock = self.get_clock()
        self._tracker = BeliefTracker(
            model, p.proprio_joints, p.frame_timeout, p.max_predicted_steps,
            self._rejections.reject, limits, lambda: clock.now().nanoseconds / 1e9,
            pose_source=p.proprio_source == "pose",
        )  # fmt: skip
        self._pub = self.create_publisher(LatentState, "~/latent", qos.STATE)
        # What a frame folds with is subscribed before the frames: when a busy executor
        # finds both ready, rclpy takes them in this order, so the frame meets the joint
        # states and the executed action that came before it.
        if p.proprio_source == "pose":
            self.create_subscription(PoseStamped, "ee_pose", self._on_pose, qos.STATE)
        self.create_subscription(JointState, "joint_states", self._on_joint_states, qos.STATE)
        self.create_subscription(
            Float64MultiArray, "executed_action", self._on_executed_action, qos.COMMAND
        )
        self.create_subscription(Embedding, "embedding", self._on_embedding, qos.SENSOR)
        self.create_subscription(Goal, "goal", self._on_goal, qos.GOAL)
        self.create_timer(
            p.frame_timeout / 2, self._on_timer, clock=Clock(clock_type=ClockType.STEADY_TIME)
        )
        self._diagnostics = diagnostics.Diagnostics(self, self._report, p.diagnostics_period)

    def _on_joint_states(self, msg: JointState) -> None:
        seconds = Time.from_msg(msg.header.stamp).nanoseconds / 1e9
        self._tracker.set_joint_states(list(msg.name), list(msg.position), seconds)

    def _on_pose(self, msg: PoseStamped) -> None:
        position = msg.pose.position
        self._tracker.set_pose([position.x, position.y, position.z])

    def _on_executed_action(self, msg: Float64MultiArray) -> None:
        self._tracker.set_action(list(msg.data))

    def _on_embedding(self, msg: Embedding) -> None:
        seconds = Time.from_msg(msg.header.stamp).nanoseconds / 1e9
        self._publish(self._tracker.add_frame(msg.encoder_id, msg.data, msg.header.stamp, seconds))

    def _on_goal(self, msg: Goal) -> None:
        if msg.goal_id == self._tracker.goal_id:
            return
        problem = goal_problem(msg.embedding, self._model_goal_dim)
        if problem:
            self._rejections.reject("goal", problem)
            return
        self.get_logger().info(f"new goal {msg.goal_id} ({msg.task}): belief reset")
        self._publish(self._tracker.set_goal(msg.goal_id))

    def _on_timer(self) -> None:
        self._publish(self._tracker.predict_if_late())

    def _publish(self, estimate: Estimate | None) -> None:
        if estimate is None:
            return
        msg = LatentState(
            goal_id=estimate.goal_id,
            step=estimate.step,
            predicted_only=estimate.predicted_only,
            frames_missed=estimate.frames_missed,
        )
        msg.header.stamp = estimate.stamp
        msg.deter = estimate.deter.tolist()
        msg.stoch = estimate.stoch.tolist()
        msg.proprio = estimate.proprio.tolist()
        self._pub.publish(msg)

    def _report(self) -> diagnostics.Report:
        level, message, values = self._tracker.health()
        return diagnostics.LEVELS[level], message, {**values, **self._rejections.report()}


NODE_CLASS = StateEstimator


def main(args: list[str] | None = None) -> None:
    run_node(StateEstimator, args)


if __name__ == "__main__":
    main()
