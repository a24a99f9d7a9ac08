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
JointState, JointTrajectory) as the sink's command (control/action_semantics: the
normalised action, an end-effector velocity, or a position target integrated from the
measured state carried by the belief; a hold is the measured position, never zeros),
on ~/executed_action (normalised, for the state estimator)
and in ~/plan_status. With `lockstep` a tick acts only on a belief it has not acted on
yet and waits for one (up to 2 s) instead of holding (evaluation against a simulator
that steps once per action and waits: a hold would be a step the CPU's timing put in).
With `trigger: belief` the loop is event-driven, as camera-paced pipelines are: each new
belief is planned on as it arrives (image in -> action out with no timer phase in
between), and the timer only watches, sending the safe action when the goal is missing
or the belief goes stale.

The decisions are control/control_loop.ControlLoop's; this node converts and publishes.
"""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import get_args

import numpy as np
from rclpy.clock import Clock, ClockType
from rclpy.duration import Duration as RclpyDuration
from rclpy.node import Node
from rclpy.time import Time
from std_msgs.msg import Float64MultiArray

from vla_wm_interfaces.msg import Goal, LatentState, PlanStatus
from vla_wm_ros.control.action_semantics import ActionSemantics, Command
from vla_wm_ros.control.action_sink import ActionSinkConfig
from vla_wm_ros.control.control_loop import (
    PLANNED,
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
from vla_wm_ros.ros.action_messages import SINKS, command_to_message, gripper_message
from vla_wm_ros.ros.callback_guard import GuardedCallbacks
from vla_wm_ros.ros.node_main import run_node
from vla_wm_ros.ros.parameters import (
    MODEL_PARAMETERS,
    Param,
    config_from,
    declare_parameters,
    params_from,
)
from vla_wm_ros.ros.plan_status import STATUS_CODES
from vla_wm_ros.ros.plan_visualiser import VISUALIZATION_PARAMETERS, PlanVisualiser
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
    *VISUALIZATION_PARAMETERS,
]

# Seconds the final hold may wait for reliable subscribers to acknowledge it.
FINAL_HOLD_ACK_S = 0.5


class PlannerLogic(GuardedCallbacks):
    """The planner's wiring, shared by the plain node and the lifecycle node: `_setup()`
    loads the model and creates the loop, publishers, subscriptions and timer;
    `_release()` undoes it. Commands go out only while `_active`. Every callback runs
    under the callback guard (ros/callback_guard), in both nodes."""

    p: SimpleNamespace
    _active = False
    _configured = False

    def _setup(self) -> None:
        p = self.p
        model = load_model_runtime(p.model_dir, p.device, p.backend, p.engine_cache)
        self._sink = config_from(ActionSinkConfig, p, "action_sink.")
        settings = config_from(LoopSettings, p)
        self._safe = safe_action(p.safe_action, model.action_dim)
        self._period = settings.period
        # Fail at start, not on the first tick, when the sink cannot carry this model's commands.
        self._sink.check(model.action_dim)
        self._semantics = ActionSemantics(self._sink, self._period)
        self._measured: np.ndarray | None = None  # latest proprioception, model order
        self._waiting_for_state = False
        policy = guarded_policy(p.mode, model, p.planner, p.planner_config, p.seed, settings)
        clock = self.get_clock()
        self._loop = ControlLoop(
            model, policy, self._safe, settings, lambda: clock.now().nanoseconds / 1e9
        )
        self._rejections = Rejections(self.get_logger())
        self._sink_pub = self.create_publisher(
            SINKS[self._sink.type][0], self._sink.topic, qos.COMMAND
        )
        self._gripper_pub = (
            self.create_publisher(Float64MultiArray, self._sink.gripper_topic, qos.COMMAND)
            if self._sink.gripper == "topic"
            else None
        )
        self._executed_pub = self.create_publisher(
            Float64MultiArray, "~/executed_action", qos.COMMAND
        )
        self._status_pub = self.create_publisher(PlanStatus, "~/plan_status", qos.STATUS)
        self._subscriptions_made = [
            self.create_subscription(LatentState, "latent", self._on_latent, qos.STATE),
            self.create_subscription(Goal, "goal", self._on_goal, qos.GOAL),
        ]
        self._diagnostics = diagnostics.Diagnostics(self, self._report, p.diagnostics_period)
        self._timer = self.create_timer(
            self._period, self._on_tick, clock=Clock(clock_type=ClockType.STEADY_TIME)
        )
        self._visualiser = PlanVisualiser(self, model, p, self._rejections)
        self._belief: Belief | None = None
        self._goal_embedding: list[float] = []
        self._configured = True
        self.get_logger().info(
            f"mode {p.mode} ({policy.name}, {model.units.backend} backend) at "
            f"{p.control_frequency:g} Hz, trigger {p.trigger}, "
            f"{model.action_dim}-D actions -> {self._sink.command} {self._sink.type} on "
            f"{self.resolve_topic_name(self._sink.topic)}"
        )

    def _release(self) -> None:
        """Undo `_setup()`: the model, loop, publishers, subscriptions and timers go."""
        if not self._configured:
            return
        self._configured = self._active = False
        self.destroy_timer(self._timer)
        for sub in self._subscriptions_made:
            self.destroy_subscription(sub)
        self._diagnostics.close()
        self._visualiser.close()
        for pub in (self._sink_pub, self._gripper_pub, self._executed_pub, self._status_pub):
            if pub is not None:
                self.destroy_publisher(pub)
        self._loop.close()

    def _hold(self) -> None:
        """Send the sink's hold now, acknowledged by reliable subscribers (up to
        FINAL_HOLD_ACK_S)."""
        hold = self._semantics.hold(self._safe, self._measured)
        if not self._command(hold, self.get_clock().now().to_msg()):
            return
        for pub in (self._sink_pub, self._gripper_pub):
            if pub is not None:
                pub.wait_for_all_acked(RclpyDuration(seconds=FINAL_HOLD_ACK_S))
        self.get_logger().info(f"hold sent on {self._sink_pub.topic_name}")

    def _on_latent(self, msg: LatentState) -> None:
        belief = Belief(
            msg.goal_id,
            np.asarray(msg.deter),
            np.asarray(msg.stoch),
            Time.from_msg(msg.header.stamp).nanoseconds / 1e9,
            time.monotonic(),
        )
        proprio = np.asarray(msg.proprio, dtype=np.float64)
        if proprio.size and np.all(np.isfinite(proprio)):
            self._measured = proprio  # the robot's state, whichever goal the belief is for
        reason = self._loop.set_belief(belief)
        if reason is None:
            self._belief = belief
        if reason is not None:
            self._rejections.reject("latent", reason)
        elif self.p.trigger == "belief" and self._active:
            self._send(self._loop.tick())

    def _on_goal(self, msg: Goal) -> None:
        if not msg.goal_id:  # the stop goal: hold from the next tick
            if self._loop.goal_id is not None:
                self._loop.clear_goal()
                self._semantics.reset()
                self.get_logger().info("stop: holding")
            return
        new = msg.goal_id != self._loop.goal_id
        reason = self._loop.set_goal(msg.goal_id, msg.embedding)
        if reason is not None:
            self._rejections.reject("goal", reason)
        elif new:
            self._goal_embedding = list(msg.embedding)
            self._semantics.reset()
            self.get_logger().info(f"goal {msg.goal_id}: {msg.instruction!r} -> {msg.task}")

    def _on_tick(self) -> None:
        if not self._active:
            return
        # Triggered by beliefs, the timer only watches: it acts when the watchdog objects.
        self._send(self._loop.tick(watch_only=self.p.trigger == "belief"))

    def _send(self, tick: Tick | None) -> None:
        if tick is None:
            return
        result = tick.decision
        if result.status == "error":
            self.get_logger().error(result.reason)
        stamp = self.get_clock().now().to_msg()
        if result.status in PLANNED:
            command = self._semantics.command(result.action, self._measured)
        else:
            command = self._semantics.hold(self._safe, self._measured)
        # The estimator hears of the action before the robot can act on it: a frame taken
        # after this step then never meets the previous action instead.
        self._executed_pub.publish(Float64MultiArray(data=result.action.tolist()))
        self._command(command, stamp)
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
        if result.status in PLANNED:
            self._visualiser.show(tick, self._belief, self._goal_embedding, stamp)
        if self._loop.finish(tick, latency):
            self.get_logger().warning(f"safe action sent: {status.reason}")
            self._diagnostics.publish_now()

    def _command(self, command: Command, stamp) -> bool:
        """Publish a command; False when there is none (a position sink with no measured
        state yet sends nothing)."""
        if command.values is None:
            if not self._waiting_for_state:
                self.get_logger().warning(
                    f"{self._sink.command} sink: no measured state yet, nothing commanded"
                )
            self._waiting_for_state = True
            return False
        self._waiting_for_state = False
        self._sink_pub.publish(command_to_message(self._sink, command.values, stamp, self._period))
        if self._gripper_pub is not None and command.gripper is not None:
            self._gripper_pub.publish(gripper_message(command.gripper))
        return True

    def _report(self) -> diagnostics.Report:
        level, message, values = self._loop.health()
        values = {"mode": self.p.mode, **values, **self._rejections.report()}
        return diagnostics.LEVELS[level], message, values

    def destroy_node(self) -> None:
        """Leave the robot holding: a final hold before the node goes."""
        if self._configured and self.context.ok():
            self._hold()
        self._release()
        super().destroy_node()


class PlannerNode(PlannerLogic, Node):
    """The planner as a plain node: loads and commands from construction on."""

    def __init__(self, **kwargs) -> None:
        super().__init__("planner", **kwargs)
        self.p = declare_parameters(self, PARAMETERS)
        self._setup()
        self._active = True


NODE_CLASS = PlannerNode


def main(args: list[str] | None = None) -> None:
    run_node(PlannerNode, args)


if __name__ == "__main__":
    main()
