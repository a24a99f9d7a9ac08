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
"""

from __future__ import annotations

import uuid

import numpy as np
from rclpy.node import Node
from rclpy.time import Time
from sensor_msgs.msg import Image

from vla_wm_interfaces.msg import Goal
from vla_wm_interfaces.srv import SetGoal
from vla_wm_ros.control.model_runtime import resolve_model_dir
from vla_wm_ros.language.backends import BACKENDS, GroundingConfig, build_grounder
from vla_wm_ros.language.encoder import SentenceEncoderConfig
from vla_wm_ros.language.grounding import GrounderConfig
from vla_wm_ros.language.timeout import TimedGrounder
from vla_wm_ros.language.vlm import DTYPES, VLMConfig
from vla_wm_ros.ros import diagnostics, qos
from vla_wm_ros.ros.callback_guard import GuardedCallbacks
from vla_wm_ros.ros.image_conversion import ImageConversionError, image_to_rgb
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

    def _on_set_goal(self, request: SetGoal.Request, response: SetGoal.Response):
        image, why = self._latest_frame()
        grounding = self._grounder.ground(request.instruction, image)
        response.confidence = float(grounding.confidence)
        if not grounding.accepted:
            response.accepted = False
            response.message = grounding.reason + (f" ({why})" if why else "")
            self._rejections.reject("instruction", response.message)
            return response

        goal = Goal(
            goal_id=uuid.uuid4().hex,
            instruction=" ".join(request.instruction.split()),
            task=grounding.task,
            confidence=float(grounding.confidence),
        )
        goal.header.stamp = self.get_clock().now().to_msg()
        goal.embedding = [float(v) for v in grounding.embedding]
        message = grounding.reason
        if self._current is not None:
            message += f"; replaces goal {self._current.goal_id} ({self._current.instruction!r})"
        self._current = goal
        self._accepted += 1
        self._pub.publish(goal)
        self.get_logger().info(f"goal {goal.goal_id}: {goal.instruction!r} {message}")
        response.accepted = True
        response.goal_id = goal.goal_id
        response.task = goal.task
        response.confidence = goal.confidence
        response.message = message
        return response

    def destroy_node(self) -> None:
        self._grounder.close()
        super().destroy_node()

    def _report(self) -> diagnostics.Report:
        values = {
            "accepted": self._accepted,
            "goal_id": self._current.goal_id if self._current else "-",
            "task": self._current.task if self._current else "-",
            "request_queue_depth": qos.SERVICE.depth,
            **self._rejections.report(),
        }
        if self._current is None:
            return diagnostics.OK, "waiting for an instruction", values
        return diagnostics.OK, f"goal: {self._current.instruction}", values


NODE_CLASS = InstructionParser


def main(args: list[str] | None = None) -> None:
    run_node(InstructionParser, args)


if __name__ == "__main__":
    main()
