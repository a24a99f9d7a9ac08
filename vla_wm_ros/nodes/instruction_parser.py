"""instruction_parser: `~/set_goal` (SetGoal) -> grounding -> Goal on a transient-local topic.

The grounder refuses, with its reason, what is not a sentence (empty, over 1024
characters, control characters, no letters), what is about nothing in the task suite
(similarity below min_similarity) and what is ambiguous between tasks (confidence below
min_confidence). An accepted goal gets a fresh id and
replaces the running one, and the response says which goal it replaced. The topic is
transient-local, so a planner started later still receives the current goal.

`grounding.backend` picks the grounder: `sentence` (text only, the default) or `vlm` (a
local vision-language model that also sees the latest frame on `image`). Grounding runs
here, never in the planner's control loop: the planner keeps acting on its current goal
(or holds without one) until an accepted goal arrives, and an instruction that takes
longer than `grounding.timeout` to ground is refused, as is grounding against a frame
older than `grounding.max_frame_age`. At start the goal-space encoder
(`encoder_dir`) is checked against the one the checkpoint (`model_dir`) records.

Two ways in, one grounding: the `~/set_goal` service (SetGoal: answers at once) and the
`~/execute` action (ExecuteInstruction, ros/instruction_action.py: feedback every planner
tick with the grounded task, step, predicted return and planner status; the result when
the task succeeds, the episode ends, or the goal is replaced, stopped or cancelled).
`~/stop` (std_srvs/Trigger) and a cancelled action publish the stop goal (empty goal_id):
the planner holds from its next tick and the simulator keeps its episode. Success is the
simulator's word where sim_bridge reports on the goal, else the learned signal
(control/goal_progress.py).
"""

from __future__ import annotations

import uuid

import numpy as np
from rclpy.node import Node
from rclpy.time import Time
from sensor_msgs.msg import Image
from std_srvs.srv import Trigger

from vla_wm_interfaces.msg import Goal
from vla_wm_interfaces.srv import SetGoal
from vla_wm_ros.control.goal_progress import SUCCESS_REWARD, SUCCESS_TICKS
from vla_wm_ros.control.model_runtime import resolve_model_dir
from vla_wm_ros.language.backends import BACKENDS, GroundingConfig, build_grounder
from vla_wm_ros.language.encoder import SentenceEncoderConfig
from vla_wm_ros.language.grounding import GrounderConfig
from vla_wm_ros.language.timeout import TimedGrounder
from vla_wm_ros.language.vlm import DTYPES, VLMConfig
from vla_wm_ros.ros import diagnostics, qos
from vla_wm_ros.ros.callback_guard import GuardedCallbacks
from vla_wm_ros.ros.image_conversion import ImageConversionError, image_to_rgb
from vla_wm_ros.ros.instruction_action import InstructionAction
from vla_wm_ros.ros.node_main import run_node
from vla_wm_ros.ros.parameters import Param, declare_parameters
from vla_wm_ros.ros.rejections import Rejections

PARAMETERS = [
    Param(
        "min_similarity",
        GrounderConfig.min_similarity,
        "refuse when the closest task sentence is less similar (cosine) than this",
        low=0.0,
        high=1.0,
    ),
    Param(
        "min_confidence",
        GrounderConfig.min_confidence,
        "refuse when the best task has less probability than this (ambiguous)",
        low=0.0,
        high=1.0,
    ),
    Param(
        "success_reward",
        SUCCESS_REWARD,
        "no simulator: success when the predicted reward is at least this on success_ticks "
        "planned ticks in a row",
        low=-1e6,
        high=1e6,
    ),
    Param("success_ticks", SUCCESS_TICKS, "see success_reward", low=1, high=100000),
    Param(
        "max_ticks",
        0,
        "no simulator: an action goal fails after this many planner ticks (0: never)",
        low=0,
        high=10**9,
    ),
    Param("diagnostics_period", 1.0, "seconds between /diagnostics reports", low=0.1, high=60.0),
    Param("model_dir", "", "checkpoint whose goal space goals are in; empty: models/world_model"),
    Param("encoder_dir", "", "goal-space sentence encoder directory; empty: all-MiniLM-L6-v2"),
    Param("grounding.backend", "sentence", "who grounds instructions", choices=BACKENDS),
    Param("grounding.vlm_dir", "", "local transformers VLM directory (backend vlm)"),
    Param("grounding.vlm_device", "cpu", "where the VLM runs (cpu, cuda, cuda:N)"),
    Param("grounding.vlm_dtype", "float32", "VLM precision", choices=DTYPES),
    Param(
        "grounding.timeout",
        GroundingConfig.timeout,
        "s; an instruction taking longer to ground is refused (the current goal stays)",
        low=0.01,
        high=600.0,
    ),
    Param(
        "grounding.max_frame_age",
        2.0,
        "s (node clock - frame stamp); an older camera frame is not grounded against",
        low=0.0,
        high=3600.0,
    ),
]


class InstructionParser(GuardedCallbacks, Node):
    def __init__(self, **kwargs) -> None:
        super().__init__("instruction_parser", **kwargs)
        self.p = declare_parameters(self, PARAMETERS)
        config = GroundingConfig(
            backend=self.p.grounding_backend,
            sentence=GrounderConfig(
                encoder=SentenceEncoderConfig(model_dir=self.p.encoder_dir or None),
                min_similarity=self.p.min_similarity,
                min_confidence=self.p.min_confidence,
            ),
            vlm=VLMConfig(
                model_dir=self.p.grounding_vlm_dir or None,
                device=self.p.grounding_vlm_device,
                dtype=self.p.grounding_vlm_dtype,
            ),
            timeout=self.p.grounding_timeout,
        )
        grounder = build_grounder(config, resolve_model_dir(self.p.model_dir))
        self._grounder = TimedGrounder(grounder, config.timeout)
        self._frame: Image | None = None
        if config.backend == "vlm":
            self.create_subscription(Image, "image", self._on_image, qos.SENSOR)
        self._rejections = Rejections(self.get_logger())
        self._current: Goal | None = None
        self._accepted = 0
        self._pub = self.create_publisher(Goal, "~/goal", qos.GOAL)
        self.create_service(SetGoal, "~/set_goal", self._on_set_goal, qos_profile=qos.SERVICE)
        self.create_service(Trigger, "~/stop", self._on_stop, qos_profile=qos.SERVICE)
        self._action = InstructionAction(self, self._accept, self._stop, self.p)
        self._diagnostics = diagnostics.Diagnostics(self, self._report, self.p.diagnostics_period)
        self.get_logger().info(
            f"grounding to {len(grounder.task_names)} tasks with the {config.backend} backend "
            f"(timeout {config.timeout:.1f} s)"
        )

    def _on_image(self, msg: Image) -> None:
        self._frame = msg  # converted only when an instruction arrives

    def _latest_frame(self) -> tuple[np.ndarray | None, str]:
        """The latest camera frame as RGB, or None and why it cannot be used."""
        if self._frame is None:
            return None, ""
        age = (self.get_clock().now() - Time.from_msg(self._frame.header.stamp)).nanoseconds
        if age * 1e-9 > self.p.grounding_max_frame_age:
            return None, (
                f"the latest frame is {age * 1e-9:.1f} s old "
                f"(max_frame_age {self.p.grounding_max_frame_age:.1f} s)"
            )
        try:
            return image_to_rgb(self._frame), ""
        except ImageConversionError as exc:
            self._rejections.reject("image", str(exc))
            return None, str(exc)

    # -- goals -----------------------------------------------------------------------------

    def _accept(self, instruction: str) -> tuple[Goal | None, float, str]:
        """Ground `instruction`; publish it as the new goal when accepted.

        Returns (goal or None when refused, confidence, message).
        """
        image, why = self._latest_frame()
        grounding = self._grounder.ground(instruction, image)
        if not grounding.accepted:
            reason = grounding.reason + (f" ({why})" if why else "")
            self._rejections.reject("instruction", reason)
            return None, float(grounding.confidence), reason
        goal = Goal(
            goal_id=uuid.uuid4().hex,
            instruction=" ".join(instruction.split()),
            task=grounding.task,
            confidence=float(grounding.confidence),
        )
        goal.header.stamp = self.get_clock().now().to_msg()
        goal.embedding = [float(v) for v in grounding.embedding]
        message = grounding.reason
        if self._current is not None and self._current.goal_id:
            message += f"; replaces goal {self._current.goal_id} ({self._current.instruction!r})"
        self._action.end(f"replaced by goal {goal.goal_id} ({goal.instruction!r})")
        self._current = goal
        self._accepted += 1
        self._pub.publish(goal)
        self.get_logger().info(f"goal {goal.goal_id}: {goal.instruction!r} {message}")
        return goal, goal.confidence, message

    def _stop(self, why: str) -> None:
        """Publish the stop goal: the planner holds from its next tick."""
        stop = Goal(instruction="", task="")
        stop.header.stamp = self.get_clock().now().to_msg()
        self._current = stop
        self._pub.publish(stop)
        self.get_logger().info(f"stop: {why}")

    def _on_set_goal(self, request: SetGoal.Request, response: SetGoal.Response):
        goal, confidence, message = self._accept(request.instruction)
        response.accepted = goal is not None
        response.confidence = confidence
        response.message = message
        if goal is not None:
            response.goal_id, response.task = goal.goal_id, goal.task
        return response

    def _on_stop(self, _request: Trigger.Request, response: Trigger.Response):
        stopped = self._current.goal_id if self._current is not None else ""
        self._action.end("stopped by ~/stop")
        self._stop("~/stop called")
        response.success = True
        response.message = f"holding; stopped goal {stopped}" if stopped else "holding"
        return response

    def destroy_node(self) -> None:
        # Also on a node whose __init__ refused to start (rclpy's context destroys it).
        for part in ("_grounder", "_action"):
            if hasattr(self, part):
                getattr(self, part).close()
        super().destroy_node()

    def _report(self) -> diagnostics.Report:
        values = {
            "accepted": self._accepted,
            "goal_id": self._current.goal_id if self._current else "-",
            "task": self._current.task if self._current else "-",
            "action_running": self._action.running is not None,
            "request_queue_depth": qos.SERVICE.depth,
            **self._rejections.report(),
        }
        if self._current is None or not self._current.goal_id:
            return diagnostics.OK, "waiting for an instruction", values
        return diagnostics.OK, f"goal: {self._current.instruction}", values


NODE_CLASS = InstructionParser


def main(args: list[str] | None = None) -> None:
    run_node(InstructionParser, args)


if __name__ == "__main__":
    main()
