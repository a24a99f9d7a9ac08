"""The project's bad-input corpus, played against a running graph (`vla-wm bench robustness`).

Cases by class: malformed and mis-stamped images, joint states (NaN, inf, 1e300, counts),
a foreign executed action and goal, hostile instructions, service faults (a reset that
raises, a burst of goals) and a killed-and-respawned planner. Each bad input must be
refused with a reason that is heard: a line the named node logs on /rosout, or the
service's refusal. Throughout, every command on the action sink and every PlanStatus is
watched. Reasons are logged at most once a second when they repeat (ros/rejections), so
no two cases in a row share one. The report counts what must stay zero: node crashes (a
spin thread that ended), non-finite commands, planned commands on a stale belief, and
unlogged rejections (a bad input that was neither refused aloud nor answered).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from builtin_interfaces.msg import Time
from rcl_interfaces.msg import Log
from rclpy.qos import QoSDurabilityPolicy, QoSProfile, QoSReliabilityPolicy
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Float64MultiArray

from vla_wm_interfaces.msg import Goal, PlanStatus
from vla_wm_interfaces.srv import ResetEpisode, SetGoal
from vla_wm_ros.ros import qos
from vla_wm_ros.ros.graph_client import GraphClient
from vla_wm_ros.ros.image_conversion import rgb_to_image
from vla_wm_ros.ros.in_process import InProcessGraph

PLANNED = (PlanStatus.OK, PlanStatus.DEADLINE)
BURST = 50


@dataclass
class Case:
    """One bad input: its class, name, what it sends, and who must say what about it."""

    kind: str
    name: str
    send: Callable[[Player], object]  # publishes (None) or returns a service reply
    node: str = ""  # whose /rosout line must contain `expect` (empty: the reply must)
    expect: str = ""


def _image(player: Player, stamp: Time | None = None, **fields) -> Image:
    rgb = player.rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    image = rgb_to_image(rgb, "rgb8")
    for key, value in fields.items():
        setattr(image, key, value)
    image.header.stamp = stamp if stamp is not None else player.now()
    return image


def _joints(n: int, values: list[float], names: list[str] | None = None) -> JointState:
    return JointState(name=names if names is not None else [f"j{i}" for i in range(n)],
                      position=values)  # fmt: skip


def corpus(proprio_dim: int, action_dim: int, goal_dim: int) -> list[Case]:
    """The cases, by class; sizes from the model the graph runs."""
    p, a = proprio_dim, action_dim
    zero_p = [0.0] * p

    def joints(values, names=None):
        return lambda pl: pl.joint_pub.publish(_joints(p, values, names))

    def image(**fields):
        return lambda pl: pl.image_pub.publish(_image(pl, **fields))

    def stamped(offset_s: float | None, absolute: Time | None = None):
        def send(pl: Player) -> None:
            stamp = absolute
            if stamp is None:
                ns = pl.node.get_clock().now().nanoseconds + int(offset_s * 1e9)
                stamp = Time(sec=ns // 10**9, nanosec=ns % 10**9)
            pl.image_pub.publish(_image(pl, stamp=stamp))

        return send

    def instruction(text: str):
        return lambda pl: pl.client.set_goal(text, timeout=30.0)

    def raw_instruction(text: str):
        return lambda pl: pl.call(pl.set_goal_client, SetGoal.Request(instruction=text))

    cases = [
        Case("image", "unsupported encoding", image(encoding="32FC1"), "camera_encoder",
             "unsupported encoding"),
        Case("image", "step below width*channels", image(step=10), "camera_encoder",
             "step 10 is smaller"),
        Case("image", "zero size", image(height=0, width=0, step=0, data=b""), "camera_encoder",
             "zero-sized image"),
        Case("image", "short buffer", image(data=bytes(100)), "camera_encoder",
             "data has 100 bytes"),
        Case("stamp", "zero", stamped(None, Time()), "state_estimator", "stamp is zero"),
        Case("stamp", "in the future", stamped(60.0), "state_estimator", "ahead of the clock"),
        Case("stamp", "1970", stamped(None, Time(sec=1)), "state_estimator",
             "rejected embedding: stamp"),
        Case("joint_states", "NaN", joints([math.nan, *zero_p[1:]]), "state_estimator",
             "non-finite position(s) at 0"),
        Case("joint_states", "inf", joints([*zero_p[1:], -math.inf]), "state_estimator",
             f"non-finite position(s) at {p - 1}"),
        Case("joint_states", "1e300 (inf as float32)", joints([1e300, *zero_p[1:]]),
             "state_estimator", "non-finite position(s) at 0 (as float32)"),
        Case("joint_states", "too few positions", joints(zero_p[1:], []), "state_estimator",
             f"{p - 1} positions, the model takes {p}"),
        Case("joint_states", "names and positions differ", joints(zero_p, ["a"]),
             "state_estimator", f"1 names but {p} positions"),
        Case("executed_action", "NaN",
             lambda pl: pl.executed_pub.publish(Float64MultiArray(data=[math.nan] * a)),
             "state_estimator", "non-finite value(s)"),
        Case("executed_action", "1e300",
             lambda pl: pl.executed_pub.publish(Float64MultiArray(data=[0.0] * (a - 1) + [1e300])),
             "state_estimator", f"non-finite value(s) at {a - 1} (as float32)"),
        Case("goal", "wrong size",
             lambda pl: pl.goal_pub.publish(Goal(goal_id="bad", embedding=[0.0] * 8)),
             "planner", f"rejected goal: embedding of 8 values, the model takes {goal_dim}"),
        Case("goal", "NaN embedding",
             lambda pl: pl.goal_pub.publish(Goal(goal_id="bad2", embedding=[math.nan] * goal_dim)),
             "state_estimator", "rejected goal: non-finite embedding value(s)"),
        Case("instruction", "empty", raw_instruction(""), expect="instruction is empty"),
        Case("instruction", "10k characters", raw_instruction("x" * 10_000),
             expect="characters long"),
        Case("instruction", "bell character", raw_instruction("open the\x07 drawer"),
             expect="control character U+0007"),
        Case("instruction", "terminal escape", raw_instruction("\x1b[2J open"),
             expect="control character U+001B"),
        Case("instruction", "NUL (a ROS string ends there)",
             instruction("open the door\x00 and the window"), expect="control character U+0000"),
        Case("instruction", "unrelated", raw_instruction("what's the weather tomorrow"),
             expect="not related to any task"),
        Case("service", "reset that raises (seed -1)",
             lambda pl: pl.call(pl.reset_client, ResetEpisode.Request(task="", seed=-1)),
             expect="refused:"),
        Case("service", f"burst of {BURST} goals", lambda pl: pl.burst(), expect="answered"),
        Case("fault", "planner killed and respawned", lambda pl: pl.respawn_planner(),
             expect="resumed"),
    ]  # fmt: skip
    return cases


class Player:
    """Plays `corpus` into `graph` (profile mujoco) and keeps the counts of the report."""

    def __init__(self, graph: InProcessGraph, seed: int = 0) -> None:
        self.graph = graph
        self.client = GraphClient(context=graph.context)
        self.node = self.client.node
        self.rng = np.random.default_rng(seed)
        self.image_pub = self.node.create_publisher(Image, "/camera/image_raw", 10)
        self.joint_pub = self.node.create_publisher(JointState, "/joint_states", 10)
        self.executed_pub = self.node.create_publisher(
            Float64MultiArray, "/planner/executed_action", qos.COMMAND
        )
        self.goal_pub = self.node.create_publisher(Goal, "/instruction_parser/goal", qos.GOAL)
        self.set_goal_client = self.node.create_client(
            SetGoal, "/instruction_parser/set_goal", qos_profile=qos.SERVICE
        )
        self.reset_client = self.node.create_client(
            ResetEpisode, "/sim_bridge/reset", qos_profile=qos.SERVICE
        )
        self.logs: list[Log] = []
        self.statuses: list[PlanStatus] = []
        self.non_finite_commands = 0
        self.stale_commands = 0
        self.commands = 0
        self.goal_id = ""
        self.max_latent_age_ms = 1e3 * graph.specs["planner"].parameters.get("max_latent_age", 0.3)
        log_qos = QoSProfile(
            depth=1000,
            reliability=QoSReliabilityPolicy.RELIABLE,
            durability=QoSDurabilityPolicy.TRANSIENT_LOCAL,
        )
        self.node.create_subscription(Log, "/rosout", self.logs.append, log_qos)
        self.node.create_subscription(
            PlanStatus, "/planner/plan_status", self._on_status, qos.RECORD
        )
        self.node.create_subscription(
            Float64MultiArray, "/sim_bridge/action", self._on_command, qos.RECORD
        )

    def now(self) -> Time:
        return self.node.get_clock().now().to_msg()

    def _on_status(self, msg: PlanStatus) -> None:
        self.statuses.append(msg)
        if msg.status in PLANNED and msg.latent_age_ms > self.max_latent_age_ms:
            self.stale_commands += 1

    def _on_command(self, msg: Float64MultiArray) -> None:
        self.commands += 1
        if not np.all(np.isfinite(np.asarray(msg.data))):
            self.non_finite_commands += 1

    def spin_until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        return self.client.spin_until(predicate, timeout)

    def call(self, client, request, timeout: float = 30.0):
        if not self.spin_until(client.service_is_ready, timeout):
            return None
        future = client.call_async(request)
        return future.result() if self.spin_until(future.done, timeout) else None

    def heard(self, node: str, text: str, since: int) -> bool:
        return any(m.name == node and text in m.msg for m in self.logs[since:])

    # -- the cases that are more than one message --------------------------------------------

    def start_goal(self, instruction: str = "open the drawer", timeout: float = 60.0) -> bool:
        reply = self.client.set_goal(instruction)
        self.goal_id = reply.goal_id if reply.accepted else ""
        return bool(self.goal_id) and self._planning(0, timeout)

    def _planning(self, since: int, timeout: float) -> bool:
        def planned() -> bool:
            return any(
                s.goal_id == self.goal_id and s.status in PLANNED for s in self.statuses[since:]
            )

        return self.spin_until(planned, timeout)

    def burst(self) -> str:
        if not self.spin_until(self.set_goal_client.service_is_ready, 30):
            return "service not available"
        texts = ["open the drawer", "", "press the button", "open the\x07 drawer"]
        futures = [
            self.set_goal_client.call_async(SetGoal.Request(instruction=texts[i % len(texts)]))
            for i in range(BURST)
        ]
        self.spin_until(lambda: all(f.done() for f in futures), 120)
        answered = sum(f.done() and bool(f.result().message) for f in futures)
        accepted = [f.result() for f in futures if f.done() and f.result().accepted]
        if accepted:
            self.goal_id = accepted[-1].goal_id
        return f"{answered} of {BURST} answered" if answered < BURST else "answered"

    def respawn_planner(self) -> str:
        self.graph.respawn("planner")
        since = len(self.statuses)
        return "resumed" if self._planning(since, 60) else "did not resume its goal"

    # -- the run -----------------------------------------------------------------------------

    def play(self, cases: list[Case], on_case: Callable[[Case, bool], None]) -> dict:
        results = []
        for case in cases:
            since = len(self.logs)
            reply = case.send(self)
            if case.node:
                ok = self.spin_until(lambda c=case, s=since: self.heard(c.node, c.expect, s), 10)
                detail = "" if ok else f"no log from {case.node} containing {case.expect!r}"
            else:
                text = reply if isinstance(reply, str) else getattr(reply, "message", None)
                refused = not (
                    getattr(reply, "accepted", False) or getattr(reply, "success", False)
                )
                ok = text is not None and case.expect in text and (refused or text == case.expect)
                detail = "" if ok else f"reply {text!r}"
            dead = self.graph.dead_nodes()
            results.append({"class": case.kind, "case": case.name, "ok": ok and not dead,
                            "detail": detail or (f"dead: {dead}" if dead else "")})  # fmt: skip
            on_case(case, ok)
        self.spin_until(lambda: False, 1.0)  # let the last commands and statuses arrive
        by_class: dict[str, dict[str, int]] = {}
        for r in results:
            entry = by_class.setdefault(r["class"], {"cases": 0, "handled": 0})
            entry["cases"] += 1
            entry["handled"] += r["ok"]
        failures = [r for r in results if not r["ok"]]
        return {
            "cases": len(results),
            "by_class": by_class,
            "node_crashes": len(self.graph.dead_nodes()),
            "callback_failures": sum(n.callback_failures.count for n in self.graph.nodes.values()),
            "non_finite_commands": self.non_finite_commands,
            "stale_commands": self.stale_commands,
            "unlogged_rejections": len(failures),
            "commands": self.commands,
            "failures": failures,
        }

    def close(self) -> None:
        self.client.close()
