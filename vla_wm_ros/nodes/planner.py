"""planner: the control loop. Latest belief + goal -> one action per tick on the sink.

A timer on the steady clock ticks at control_frequency (the loop keeps running when
/clock stalls). Each tick the watchdog decides whether it may plan: no goal, no belief
for the current goal, or a belief older than max_latent_age means the safe action
(hold), never a stale command; the reason goes to PlanStatus and /diagnostics at once.
Otherwise one call into the core chooses the action against a deadline
(deadline_fraction of the period): the world-model planner with actor prior, the actor
alone, or uniform random actions (`mode`, for evaluation). A plan still not back at
fallback_fraction of the period is abandoned for the actor's action (DeadlineGuard), so
one slow iteration on a loaded machine does not make the tick late.

Every action goes out on the configured sink (Float64MultiArray, TwistStamped,
JointState, JointTrajectory), on ~/executed_action (normalised, for the state estimator)
and in ~/plan_status. With `lockstep` a tick acts only on a belief it has not acted on
yet (evaluation against a simulator stepping once per action). With `trigger: belief` the
loop is event-driven, as camera-paced pipelines are: each new belief is planned on as it
arrives (image in -> action out with no timer phase in between), and the timer only
watches, sending the safe action when the goal is missing or the belief goes stale.

The decisions are control/control_loop.ControlLoop's; this node converts and publishes.
"""

from __future__ import annotations

import time
from typing import get_args

import numpy as np
from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from rclpy.time import Time
from std_msgs.msg import Float64MultiArray

from vla_wm_interfaces.msg import Goal, LatentState, PlanStatus
from vla_wm_ros.control import watchdog
from vla_wm_ros.control.action_sink import ActionSinkConfig
from vla_wm_ros.control.control_loop import (
    Belief,
    ControlLoop,
    Tick,
    guarded_policy,
    safe_action,
)
from vla_wm_ros.control.control_policy import MODES
from vla_wm_ros.control.loop_settings import LoopSettings
from vla_wm_ros.control.model_runtime import load_model_runtime
from vla_wm_ros.planning.config import PlannerKind
from vla_wm_ros.ros import diagnostics, qos
from vla_wm_ros.ros.action_messages import SINKS, action_to_message
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
    *params_from(LoopSettings),
    Param("mode", "planner", "what chooses the action", choices=MODES),
    Param("planner", "mppi", "world-model planner (mode planner)", choices=get_args(PlannerKind)),
    Param("planner_config", "default", "planner preset name or a PlannerConfig YAML file"),
    Param("safe_action", [0.0], "hold action (normalised); one value for all dims or one each"),
    Param("seed", 0, "seed of sampling planners and random mode", low=0, high=2**31 - 1),
    Param("diagnostics_period", 1.0, "seconds between /diagnostics reports", low=0.1, high=60.0),
    *params_from(ActionSinkConfig, "action_sink."),
]

STATUS_CODES = {
    "ok": PlanStatus.OK,
    watchdog.NO_GOAL: PlanStatus.NO_GOAL,
    watchdog.STALE: PlanStatus.STALE_STATE,
    "uncertain": PlanStatus.UNCERTAIN,
    "deadline": PlanStatus.DEADLINE,
    "error": PlanStatus.ERROR,
}


def _seconds(stamp) -> float:
    return Time.from_msg(stamp).nanoseconds / 1e9


class PlannerNode(GuardedCallbacks, Node):
    def __init__(self, **kwargs) -> None:
        super().__init__("planner", **kwargs)
        p = self.p = declare_parameters(self, PARAMETERS)
        model = load_model_runtime(p.model_dir, p.device, p.backend, p.engine_cache)
        self._sink = config_from(ActionSinkConfig, p, "action_sink.")
        settings = config_from(LoopSettings, p)
        self._safe = safe_action(p.safe_action, model.action_dim)
        self._period = settings.period
        # Fail at start, not on the first tick, when the sink cannot carry this action.
        action_to_message(self._sink, self._safe, self.get_clock().now().to_msg(), self._period)
        policy = guarded_policy(p.mode, model, p.planner, p.planner_config, p.seed, settings)
        clock = self.get_clock()
        self._loop = ControlLoop(
            model, policy, self._safe, settings, lambda: clock.now().nanoseconds / 1e9
        )
        self._rejections = Rejections(self.get_logger())
        self._sink_pub = self.create_publisher(
            SINKS[self._sink.type][0], self._sink.topic, qos.COMMAND
        )
        self._executed_pub = self.create_publisher(
            Float64MultiArray, "~/executed_action", qos.COMMAND
        )
        self._status_pub = self.create_publisher(PlanStatus, "~/plan_status", qos.STATUS)
        self.create_subscription(LatentState, "latent", self._on_latent, qos.STATE)
        self.create_subscription(Goal, "goal", self._on_goal, qos.GOAL)
        self._diagnostics = diagnostics.Diagnostics(self, self._report, p.diagnostics_period)
        self.create_timer(
            self._period, self._on_tick, clock=Clock(clock_type=ClockType.STEADY_TIME)
        )
        self.get_logger().info(
            f"mode {p.mode} ({policy.name}, {model.units.backend} backend) at "
            f"{p.control_frequency:g} Hz, trigger {p.trigger}, "
            f"{model.action_dim}-D actions -> {self._sink.type} on "
            f"{self.resolve_topic_name(self._sink.topic)}"
        )

    def _on_latent(self, msg: LatentState) -> None:
        belief = Belief(
            msg.goal_id,
            np.asarray(msg.deter),
            np.asarray(msg.stoch),
            _seconds(msg.header.stamp),
            time.monotonic(),
        )
        reason = self._loop.set_belief(belief)
        if reason is not None:
            self._rejections.reject("latent", reason)
        elif self.p.trigger == "belief":
            self._send(self._loop.tick())

    def _on_goal(self, msg: Goal) -> None:
        new = msg.goal_id != self._loop.goal_id
        reason = self._loop.set_goal(msg.goal_id, msg.embedding)
        if reason is not None:
            self._rejections.reject("goal", reason)
        elif new:
            self.get_logger().info(f"goal {msg.goal_id}: {msg.instruction!r} -> {msg.task}")

    def _on_tick(self) -> None:
        # Triggered by beliefs, the timer only watches: it acts when the watchdog objects.
        self._send(self._loop.tick(watch_only=self.p.trigger == "belief"))

    def _send(self, tick: Tick | None) -> None:
        if tick is None:
            return
        result = tick.decision
        if result.status == "error":
            self.get_logger().error(result.reason)
        stamp = self.get_clock().now().to_msg()
        self._sink_pub.publish(action_to_message(self._sink, result.action, stamp, self._period))
        self._executed_pub.publish(Float64MultiArray(data=result.action.tolist()))
        status = PlanStatus(
            goal_id=tick.goal_id,
            status=STATUS_CODES[result.status],
            reason=result.reason,
            planner=result.planner,
            expected_return=float(result.expected_return),
            uncertainty=float(result.uncertainty),
            iterations=int(result.iterations),
            latent_age_ms=float(tick.latent_age * 1e3) if tick.latent_age is not None else -1.0,
            predicted_reward=float(result.predicted_reward),
        )
        status.header.stamp = stamp
        status.action = result.action.astype(np.float32).tolist()
        latency = time.monotonic() - tick.start
        status.plan_time_ms = latency * 1e3
        self._status_pub.publish(status)
        if self._loop.finish(tick, latency):
            self.get_logger().warning(f"safe action sent: {status.reason}")
            self._diagnostics.publish_now()

    def _report(self) -> diagnostics.Report:
        level, message, values = self._loop.health()
        values = {"mode": self.p.mode, **values, **self._rejections.report()}
        return diagnostics.LEVELS[level], message, values

    def destroy_node(self) -> None:
        """Leave the robot holding: one last safe action before the node goes."""
        if self.context.ok() and hasattr(self, "_sink_pub"):  # absent if __init__ failed
            stamp = self.get_clock().now().to_msg()
            self._sink_pub.publish(action_to_message(self._sink, self._safe, stamp, self._period))
        if hasattr(self, "_loop"):
            self._loop.close()
        super().destroy_node()


NODE_CLASS = PlannerNode


def main(args: list[str] | None = None) -> None:
    run_node(PlannerNode, args)


if __name__ == "__main__":
    main()
