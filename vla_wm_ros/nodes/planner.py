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
"""

from __future__ import annotations

import threading
import time

import numpy as np
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from rclpy.time import Time
from std_msgs.msg import Float64MultiArray

from vla_wm_interfaces.msg import Goal, LatentState, PlanStatus
from vla_wm_ros.config import ConfigError, from_dict
from vla_wm_ros.control import watchdog
from vla_wm_ros.control.control_policy import (
    MODES,
    ActorPolicy,
    ControlPolicy,
    make_policy,
    safe_result,
)
from vla_wm_ros.control.deadline_guard import DeadlineGuard
from vla_wm_ros.control.loop_stats import LoopStats
from vla_wm_ros.control.model_runtime import load_model_runtime
from vla_wm_ros.ros import diagnostics, qos
from vla_wm_ros.ros.action_messages import MESSAGE_TYPES, ActionSinkConfig, action_to_message
from vla_wm_ros.ros.node_main import run_node
from vla_wm_ros.ros.parameters import MODEL_PARAMETERS, Param, declare_parameters
from vla_wm_ros.ros.rejections import Rejections

SINK_PARAMETERS = [
    Param(
        "action_sink.type",
        "float64_multi_array",
        "message type of the command",
        choices=tuple(MESSAGE_TYPES),
    ),
    Param("action_sink.topic", "~/action", "topic the command is published on"),
    Param("action_sink.scale", [1.0], "sent = offset + scale * action; one value or one each"),
    Param("action_sink.offset", [0.0], "see scale"),
    Param("action_sink.joint_names", [], "joint_state/joint_trajectory: one per action dim"),
    Param(
        "action_sink.joint_field",
        "position",
        "joint_state: field carrying the command",
        choices=("position", "velocity", "effort"),
    ),
    Param(
        "action_sink.twist_indices",
        [0, 1, 2, -1, -1, -1],
        "twist_stamped: action index for linear xyz, angular xyz (-1: zero)",
    ),
    Param("action_sink.frame_id", "", "header frame of stamped commands"),
    Param(
        "action_sink.time_from_start",
        0.0,
        "joint_trajectory: point due after this many seconds (0: one period)",
        low=0.0,
        high=60.0,
    ),
]

PARAMETERS = [
    *MODEL_PARAMETERS,
    Param("control_frequency", 10.0, "control ticks per second (Hz)", low=0.1, high=1000.0),
    Param("mode", "planner", "what chooses the action", choices=MODES),
    Param(
        "planner",
        "mppi",
        "world-model planner (mode planner)",
        choices=("mppi", "cem", "gradient", "hierarchical"),
    ),
    Param("planner_config", "default", "planner preset name or a PlannerConfig YAML file"),
    Param(
        "deadline_fraction",
        0.6,
        "planning must finish this far into the control period",
        low=0.05,
        high=1.0,
    ),
    Param(
        "fallback_fraction",
        0.85,
        "a plan not back this far into the period is abandoned for the actor's action",
        low=0.05,
        high=1.0,
    ),
    Param(
        "max_latent_age",
        0.3,
        "seconds after which a belief is stale and the safe action is sent",
        low=0.001,
        high=60.0,
    ),
    Param("safe_action", [0.0], "hold action (normalised); one value for all dims or one each"),
    Param("lockstep", False, "act once per new belief (evaluation, sim step_mode on_action)"),
    Param(
        "trigger",
        "timer",
        "plan on every timer tick, or as soon as each new belief arrives",
        choices=("timer", "belief"),
    ),
    Param("seed", 0, "seed of sampling planners and random mode", low=0, high=2**31 - 1),
    Param("stats_window", 200, "ticks behind rate and latency figures", low=2, high=100000),
    Param("diagnostics_period", 1.0, "seconds between /diagnostics reports", low=0.1, high=60.0),
    *SINK_PARAMETERS,
]

STATUS_CODES = {
    "ok": PlanStatus.OK,
    watchdog.NO_GOAL: PlanStatus.NO_GOAL,
    watchdog.STALE: PlanStatus.STALE_STATE,
    "uncertain": PlanStatus.UNCERTAIN,
    "deadline": PlanStatus.DEADLINE,
    "error": PlanStatus.ERROR,
}


class PlannerNode(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__("planner", **kwargs)
        self.p = declare_parameters(self, PARAMETERS)
        self._model = load_model_runtime(
            self.p.model_dir, self.p.device, self.p.backend, self.p.engine_cache
        )
        action_dim = self._model.action_dim
        self._sink = from_dict(
            ActionSinkConfig,
            {row.name.split(".", 1)[1]: getattr(self.p, row.name.replace(".", "_"))
             for row in SINK_PARAMETERS},
            "action_sink",
        )  # fmt: skip
        self._safe = self._safe_action(action_dim)
        self._period = 1.0 / self.p.control_frequency
        # Fail at start, not on the first tick, when the sink cannot carry this action.
        action_to_message(self._sink, self._safe, self.get_clock().now().to_msg(), self._period)
        self._policy = self._make_policy()
        self._stats = LoopStats(self._period, self.p.stats_window)
        self._rejections = Rejections(self.get_logger())
        self._lock = threading.Lock()
        self._plan_lock = threading.Lock()  # the timer and a belief may both want to act
        self._goal: Goal | None = None
        self._goal_vector: np.ndarray | None = None
        self._latent: LatentState | None = None
        self._latent_arrival = 0.0
        self._latent_count = 0
        self._acted_on = 0
        self._last: PlanStatus | None = None

        inputs = MutuallyExclusiveCallbackGroup()  # multi-threaded executor: beliefs during a tick
        self._sink_pub = self.create_publisher(
            MESSAGE_TYPES[self._sink.type], self._sink.topic, qos.COMMAND
        )
        self._executed_pub = self.create_publisher(
            Float64MultiArray, "~/executed_action", qos.COMMAND
        )
        self._status_pub = self.create_publisher(PlanStatus, "~/plan_status", qos.STATUS)
        self.create_subscription(
            LatentState, "latent", self._on_latent, qos.STATE, callback_group=inputs
        )
        self.create_subscription(Goal, "goal", self._on_goal, qos.GOAL, callback_group=inputs)
        self._diagnostics = diagnostics.Diagnostics(self, self._report, self.p.diagnostics_period)
        self._timer = self.create_timer(
            self._period,
            self._on_tick,
            MutuallyExclusiveCallbackGroup(),
            clock=Clock(clock_type=ClockType.STEADY_TIME),
        )
        self.get_logger().info(
            f"mode {self.p.mode} ({self._policy.name}, {self._model.units.backend} backend) at "
            f"{self.p.control_frequency:g} Hz, trigger {self.p.trigger}, "
            f"{action_dim}-D actions -> {self._sink.type} on "
            f"{self.resolve_topic_name(self._sink.topic)}"
        )

    def _make_policy(self) -> ControlPolicy:
        """The mode's policy; a planner is held to the hard deadline by the actor."""
        policy = make_policy(
            self.p.mode, self._model, self.p.planner, self.p.planner_config, self.p.seed
        )
        if self.p.mode != "planner":
            return policy
        grace = (self.p.fallback_fraction - self.p.deadline_fraction) * self._period
        if grace < 0:
            raise ConfigError(
                f"fallback_fraction {self.p.fallback_fraction} must not be below "
                f"deadline_fraction {self.p.deadline_fraction}"
            )
        return DeadlineGuard(policy, ActorPolicy(self._model), grace)

    def _safe_action(self, action_dim: int) -> np.ndarray:
        values = np.asarray(self.p.safe_action, dtype=np.float64)
        if values.size not in (1, action_dim) or not np.all(np.abs(values) <= 1.0):
            raise ConfigError(
                f"safe_action: {list(values)} must hold 1 or {action_dim} values in [-1, 1]"
            )
        return np.broadcast_to(values, (action_dim,)).copy()

    # -- inputs ----------------------------------------------------------------------------

    def _on_latent(self, msg: LatentState) -> None:
        if (
            len(msg.deter) != self._model.deter_dim
            or len(msg.stoch) != self._model.stoch_dim
            or not (np.all(np.isfinite(msg.deter)) and np.all(np.isfinite(msg.stoch)))
        ):
            self._rejections.reject(
                "latent",
                f"deter {len(msg.deter)} / stoch {len(msg.stoch)} values, expected "
                f"{self._model.deter_dim} / {self._model.stoch_dim} finite",
            )
            return
        with self._lock:
            self._latent, self._latent_arrival = msg, time.monotonic()
            self._latent_count += 1
        if self.p.trigger == "belief":
            self._act()

    def _on_goal(self, msg: Goal) -> None:
        vector = np.asarray(msg.embedding, dtype=np.float32)
        if vector.size != self._model.goal_dim or not np.all(np.isfinite(vector)):
            self._rejections.reject(
                "goal", f"embedding of {vector.size} values, the model takes {self._model.goal_dim}"
            )
            return
        with self._lock:
            if self._goal is not None and self._goal.goal_id == msg.goal_id:
                return
            self._goal, self._goal_vector = msg, vector
        self.get_logger().info(f"goal {msg.goal_id}: {msg.instruction!r} -> {msg.task}")

    # -- the control tick ------------------------------------------------------------------

    def _on_tick(self) -> None:
        # Triggered by beliefs, the timer only watches: it acts when the watchdog objects.
        self._act(watch_only=self.p.trigger == "belief")

    def _act(self, watch_only: bool = False) -> None:
        with self._plan_lock:
            self._act_locked(watch_only)

    def _act_locked(self, watch_only: bool) -> None:
        start = time.monotonic()
        with self._lock:
            goal, goal_vector = self._goal, self._goal_vector
            latent, arrival, count = self._latent, self._latent_arrival, self._latent_count
        age = start - arrival if latent is not None else None
        verdict = watchdog.check(
            goal.goal_id if goal else None,
            latent.goal_id if latent else None,
            age,
            self.p.max_latent_age,
        )
        if watch_only and verdict is None:
            return
        if self.p.lockstep and count == self._acted_on and verdict is None:
            return  # nothing new to act on; the simulator waits for us
        self._acted_on = count
        if verdict is not None:
            result = safe_result(self._safe, verdict.status, verdict.reason)
        else:
            if self._policy.goal_id != goal.goal_id:
                self._policy.reset(goal.goal_id)  # new goal: drop the warm start
            deadline = start + self._budget(latent)
            try:
                state = self._model.state_from_arrays(latent.deter, latent.stoch)
                result = self._policy.act(state, goal_vector, deadline)
            except Exception as exc:  # a failing planner must not stop the loop
                self.get_logger().error(f"planner failed: {exc!r}")
                result = safe_result(self._safe, "error", f"planner failed: {exc}")
            if result.status == "uncertain":
                result.action = self._safe.copy()
        self._send(result, goal, age, start)

    def _budget(self, latent: LatentState) -> float:
        """Seconds this tick may plan. Triggered by beliefs, the frame's age since its
        stamp is already spent (at most half the budget, against clock skew)."""
        budget = self._period * self.p.deadline_fraction
        if self.p.trigger != "belief":
            return budget
        age = (self.get_clock().now() - Time.from_msg(latent.header.stamp)).nanoseconds / 1e9
        return budget - min(max(age, 0.0), budget / 2)

    def _send(self, result, goal: Goal | None, age: float | None, start: float) -> None:
        stamp = self.get_clock().now().to_msg()
        action = np.clip(np.asarray(result.action, dtype=np.float64), -1.0, 1.0)
        self._sink_pub.publish(action_to_message(self._sink, action, stamp, self._period))
        self._executed_pub.publish(Float64MultiArray(data=action.tolist()))
        status = PlanStatus(
            goal_id=goal.goal_id if goal else "",
            status=STATUS_CODES[result.status],
            reason=result.reason,
            planner=result.planner,
            expected_return=float(result.expected_return),
            uncertainty=float(result.uncertainty),
            iterations=int(result.iterations),
            latent_age_ms=float(age * 1e3) if age is not None else -1.0,
            predicted_reward=float(result.predicted_reward),
        )
        status.header.stamp = stamp
        status.action = action.astype(np.float32).tolist()
        latency = time.monotonic() - start
        status.plan_time_ms = latency * 1e3
        self._status_pub.publish(status)
        self._stats.record(start, latency)
        previous, self._last = self._last, status
        if status.status not in (PlanStatus.OK, PlanStatus.DEADLINE) and (
            previous is None or previous.status != status.status
        ):
            self.get_logger().warning(f"safe action sent: {status.reason}")
            self._diagnostics.publish_now()

    def _report(self) -> diagnostics.Report:
        stats = self._stats.summary()
        last = self._last
        values = {
            "mode": self.p.mode,
            "planner": self._policy.name,
            **stats,
            "last_status": (last.reason or "ok") if last else "-",
            "uncertainty": last.uncertainty if last else 0.0,
            "latent_age_ms": last.latent_age_ms if last else -1.0,
            "goal_id": last.goal_id if last and last.goal_id else "-",
            "abandoned_plans": getattr(self._policy, "abandoned", 0),
            **self._rejections.report(),
        }
        if last is None:
            return diagnostics.WARN, "no tick yet", values
        if last.status in (PlanStatus.NO_GOAL,):
            return diagnostics.OK, f"holding: {last.reason}", values
        if last.status not in (PlanStatus.OK, PlanStatus.DEADLINE):
            return diagnostics.ERROR, f"safe action: {last.reason}", values
        paced = self.p.lockstep or self.p.trigger == "belief"  # the camera sets the rate
        if stats["rate_hz"] < 0.9 * stats["target_hz"] and not paced:
            return diagnostics.WARN, f"control rate {stats['rate_hz']:.1f} Hz", values
        return diagnostics.OK, "planning", values

    def destroy_node(self) -> None:
        """Leave the robot holding: one last safe action before the node goes."""
        if self.context.ok() and hasattr(self, "_sink_pub"):  # absent if __init__ failed
            stamp = self.get_clock().now().to_msg()
            self._sink_pub.publish(action_to_message(self._sink, self._safe, stamp, self._period))
        if hasattr(self, "_policy"):
            self._policy.close()
        super().destroy_node()


NODE_CLASS = PlannerNode


def main(args: list[str] | None = None) -> None:
    run_node(PlannerNode, args)


if __name__ == "__main__":
    main()
