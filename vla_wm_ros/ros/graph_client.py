"""A client of a running controller graph: what `vla-wm goal`, demo and eval talk through.

Everything goes over ROS: the simulator is reset through sim_bridge's `~/reset`, the
instruction through instruction_parser's `~/set_goal` or its `~/execute` action
(ExecuteInstruction: feedback, result, cancel), and progress is read from
EpisodeStatus (reward, success: the simulator's word) and PlanStatus (what the planner
did, its latency). Nothing here calls the core.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import rclpy
from action_msgs.msg import GoalStatus
from rclpy.action import ActionClient
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions
from sensor_msgs.msg import Image

from vla_wm_interfaces.action import ExecuteInstruction
from vla_wm_interfaces.msg import Embedding, EpisodeStatus, PlanStatus
from vla_wm_interfaces.srv import ResetEpisode, SetGoal
from vla_wm_ros.language.text_check import rejection_reason
from vla_wm_ros.ros import qos
from vla_wm_ros.ros.graph import EMBEDDING, EPISODE, GOAL, PLAN_STATUS, SIM_IMAGE
from vla_wm_ros.ros.image_conversion import image_to_rgb
from vla_wm_ros.ros.spin import spin_until

SET_GOAL = GOAL.rsplit("/", 1)[0] + "/set_goal"
EXECUTE = GOAL.rsplit("/", 1)[0] + "/execute"
RESET = "sim_bridge/reset"
FRAME_WAIT_S = 2.0  # how long run_episode waits for the reset frame's embedding
PLANNED = (PlanStatus.OK, PlanStatus.DEADLINE)
STATUS_NAMES = {
    getattr(PlanStatus, name): name.lower()
    for name in ("OK", "NO_GOAL", "STALE_STATE", "UNCERTAIN", "DEADLINE", "ERROR")
}


class GraphError(RuntimeError):
    """The graph did not answer, or refused, in a way the caller must report."""


@dataclass
class EpisodeRecord:
    """One episode as seen from outside the graph."""

    task: str
    seed: int
    instruction: str
    goal_id: str = ""
    success: bool = False
    length: int = 0  # simulator steps until success, or until the episode ended
    done: bool = False
    timed_out: bool = False
    episode: list[EpisodeStatus] = field(default_factory=list)
    plans: list[PlanStatus] = field(default_factory=list)
    # Arrival times (steady clock) of `episode` and `plans`, to align them afterwards.
    episode_arrivals: list[float] = field(default_factory=list)
    plan_arrivals: list[float] = field(default_factory=list)
    frames: list[np.ndarray] = field(default_factory=list)

    def plan_times_ms(self) -> list[float]:
        """Tick latency of the ticks that planned for this goal (not watchdog holds)."""
        return [
            p.plan_time_ms for p in self.plans if p.goal_id == self.goal_id and p.status in PLANNED
        ]

    def predicted_vs_actual_reward(self) -> tuple[list[int], list[float], list[float]]:
        """(step, predicted, actual): each step's reward from the simulator beside the
        reward the planner predicted for it on the tick that sent its action."""
        steps, predicted, actual = [], [], []
        j = -1
        for status, arrived in zip(self.episode, self.episode_arrivals, strict=True):
            while j + 1 < len(self.plans) and self.plan_arrivals[j + 1] <= arrived:
                j += 1
            if status.step == 0 or j < 0 or self.plans[j].status not in PLANNED:
                continue
            steps.append(status.step)
            predicted.append(self.plans[j].predicted_reward)
            actual.append(status.reward)
        return steps, predicted, actual

    def ticks(self) -> dict[str, int]:
        """The planner's ticks since the reset, each one command (one lock-step step):
        planned for this goal, held for it (safe action), and sent before the goal
        reached the planner (the reset's first steps, held for want of a goal)."""
        mine = [p for p in self.plans if p.goal_id == self.goal_id]
        planned = sum(p.status in PLANNED for p in mine)
        return {
            "total": len(self.plans),
            "planned": planned,
            "held": len(mine) - planned,
            "before_goal": len(self.plans) - len(mine),
        }

    def holds(self) -> dict[str, int]:
        """Safe-action ticks for this goal, by PlanStatus status name."""
        out: dict[str, int] = {}
        for p in self.plans:
            if p.goal_id == self.goal_id and p.status not in PLANNED:
                name = STATUS_NAMES.get(p.status, str(p.status))
                out[name] = out.get(name, 0) + 1
        return out


class GraphClient:
    """A node of its own that talks to the graph (in this process or another)."""

    def __init__(self, context: Context | None = None, record_frames: bool = False) -> None:
        self._own_context = context is None
        if context is None:
            context = Context()
            # Ctrl-C arrives as KeyboardInterrupt with the context up: a goal can be cancelled.
            rclpy.init(context=context, signal_handler_options=SignalHandlerOptions.NO)
        self.context = context
        self.node = Node("vla_wm_client", context=context)
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(self.node)
        self._set_goal = self.node.create_client(SetGoal, SET_GOAL, qos_profile=qos.SERVICE)
        self._reset = self.node.create_client(ResetEpisode, RESET, qos_profile=qos.SERVICE)
        self._execute = ActionClient(
            self.node, ExecuteInstruction, EXECUTE,
            goal_service_qos_profile=qos.SERVICE, result_service_qos_profile=qos.SERVICE,
            cancel_service_qos_profile=qos.SERVICE,
        )  # fmt: skip
        self._record: EpisodeRecord | None = None
        self._record_frames = record_frames
        self.node.create_subscription(EpisodeStatus, EPISODE, self._on_episode, qos.RECORD)
        self.node.create_subscription(PlanStatus, PLAN_STATUS, self._on_plan, qos.RECORD)
        if record_frames:
            self.node.create_subscription(Image, SIM_IMAGE, self._on_image, qos.SENSOR)
        self.embeddings = 0  # image embeddings seen (the camera encoder's output)
        self.node.create_subscription(Embedding, EMBEDDING, self._on_embedding, qos.SENSOR)
        self._armed = False  # reset answered: the next step-0 status starts the record

    # -- plumbing --------------------------------------------------------------------------

    def spin_until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        return spin_until(self.executor, predicate, timeout)

    def _call(self, client, request, timeout: float):
        if not self.spin_until(client.service_is_ready, timeout):
            raise GraphError(f"service {client.srv_name} is not available (is the graph up?)")
        future = client.call_async(request)
        if not self.spin_until(future.done, timeout):
            raise GraphError(f"service {client.srv_name} did not answer within {timeout:.0f} s")
        return future.result()

    def close(self) -> None:
        self.executor.remove_node(self.node)
        self.node.destroy_node()
        self.executor.shutdown()
        if self._own_context:
            self.context.try_shutdown()

    def check_alone(self, names: tuple[str, ...], discovery_s: float = 1.5) -> None:
        """Raise GraphError when another graph shares this ROS domain: any of `names`
        (this graph's nodes) running twice. Its planner would answer our beliefs and step
        our simulator, and the evaluation would silently measure both."""
        self.spin_until(lambda: False, discovery_s)  # let discovery see the domain
        seen = [name for name, _ in self.node.get_node_names_and_namespaces()]
        twice = sorted({name for name in names if seen.count(name) > 1})
        if twice:
            domain = self.context.get_domain_id()
            raise GraphError(
                f"another graph runs in ROS domain {domain} (a second {', '.join(twice)}): "
                "give this one a domain of its own (ROS_DOMAIN_ID) or stop the other"
            )

    # -- services --------------------------------------------------------------------------

    def set_goal(self, instruction: str, timeout: float = 30.0) -> SetGoal.Response:
        """The parser's answer; an instruction that is not plain text is refused here.

        A ROS string ends at the first NUL: "open the door\\x00..." would reach the
        parser as the fragment "open the door" and be accepted, so the text is checked
        (language/text_check, the parser's own rules) before it is sent.
        """
        problem = rejection_reason(instruction)
        if problem is not None:
            return SetGoal.Response(accepted=False, message=f"refused before sending: {problem}")
        return self._call(self._set_goal, SetGoal.Request(instruction=instruction), timeout)

    def reset(self, task: str, seed: int, timeout: float = 30.0) -> ResetEpisode.Response:
        return self._call(self._reset, ResetEpisode.Request(task=task, seed=seed), timeout)

    # -- the action ------------------------------------------------------------------------

    def execute(
        self,
        instruction: str,
        timeout: float,
        on_feedback: Callable[[ExecuteInstruction.Feedback], None] | None = None,
    ) -> tuple[ExecuteInstruction.Result, str]:
        """Run `instruction` as an ExecuteInstruction goal until its result or `timeout` s.

        Returns (result, how it ended: succeeded, aborted, canceled, timeout). Ctrl-C or the
        timeout cancels the goal (the robot holds) and waits for its result. An instruction
        that is not plain text is refused before sending, as in `set_goal`.
        """
        problem = rejection_reason(instruction)
        if problem is not None:
            message = f"refused before sending: {problem}"
            return ExecuteInstruction.Result(success=False, message=message), "aborted"
        if not self.spin_until(self._execute.server_is_ready, min(timeout, 30.0)):
            raise GraphError(f"action {EXECUTE} is not available (is the graph up?)")
        sent = self._execute.send_goal_async(
            ExecuteInstruction.Goal(instruction=instruction),
            feedback_callback=(lambda m: on_feedback(m.feedback)) if on_feedback else None,
        )
        if not self.spin_until(sent.done, 30.0) or not sent.result().accepted:
            raise GraphError(f"action {EXECUTE} did not accept the goal")
        handle = sent.result()
        result = handle.get_result_async()
        ended = "timeout"
        try:
            done = self.spin_until(result.done, timeout)
        except KeyboardInterrupt:
            done, ended = False, "canceled"
        if not done:
            self.spin_until(handle.cancel_goal_async().done, 10.0)
            if not self.spin_until(result.done, 10.0):
                raise GraphError(f"action {EXECUTE}: no result after cancelling")
            return result.result().result, ended
        names = {
            GoalStatus.STATUS_SUCCEEDED: "succeeded",
            GoalStatus.STATUS_CANCELED: "canceled",
            GoalStatus.STATUS_ABORTED: "aborted",
        }
        return result.result().result, names.get(result.result().status, "aborted")

    # -- following an episode --------------------------------------------------------------

    def _on_embedding(self, msg: Embedding) -> None:
        self.embeddings += 1

    def _on_episode(self, msg: EpisodeStatus) -> None:
        record = self._record
        if record is None:
            return
        if self._armed:
            if msg.step != 0 or msg.task != record.task or msg.seed != record.seed:
                return  # a status from before the reset
            self._armed = False
        record.episode.append(msg)
        record.episode_arrivals.append(time.monotonic())
        if msg.success and not record.success:
            record.success, record.length = True, msg.step
        if msg.done:
            record.done = True
            record.length = record.length or msg.step

    def _on_plan(self, msg: PlanStatus) -> None:
        if self._record is not None and not self._armed:
            self._record.plans.append(msg)
            self._record.plan_arrivals.append(time.monotonic())

    def _on_image(self, msg: Image) -> None:
        if self._record is not None and not self._armed:
            self._record.frames.append(image_to_rgb(msg))

    def run_episode(
        self,
        task: str,
        seed: int,
        instruction: str,
        timeout: float,
        on_progress: Callable[[EpisodeRecord], None] | None = None,
    ) -> EpisodeRecord:
        """Reset to (task, seed), send `instruction`, follow until done or `timeout` s."""
        record = EpisodeRecord(task=task, seed=seed, instruction=instruction)
        self._record, self._armed = record, True
        seen = self.embeddings
        reply = self.reset(task, seed)
        if not reply.success:
            raise GraphError(f"reset refused: {reply.message}")
        # The instruction follows the reset's frame through the encoder, as a person
        # speaks to a robot they have seen stand still: the estimator then starts the
        # goal's belief from that frame, never from the previous episode's last one
        # (which frame it took depended on the CPU's timing).
        self.spin_until(lambda: self.embeddings > seen, FRAME_WAIT_S)
        goal = self.set_goal(instruction)
        if not goal.accepted:
            raise GraphError(f"instruction {instruction!r} refused: {goal.message}")
        record.goal_id = goal.goal_id
        deadline = time.monotonic() + timeout
        seen = 0
        while not record.done and time.monotonic() < deadline:
            self.executor.spin_once(timeout_sec=0.05)
            if on_progress is not None and len(record.episode) != seen:
                seen = len(record.episode)
                on_progress(record)
        record.timed_out = not record.done
        if not record.done and record.episode:
            record.length = record.length or record.episode[-1].step
        self._record = None
        return record
