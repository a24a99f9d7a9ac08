"""instruction_parser: `~/set_goal` (SetGoal) -> grounding -> Goal on a transient-local topic.

An instruction that is not a sentence (empty, longer than max_chars, control characters,
no words) is refused before grounding; one the grounder cannot tie to a task with enough
confidence is refused with the grounder's reason. An accepted goal gets a fresh id and
replaces the running one, and the response says which goal it replaced. The topic is
transient-local, so a planner started later still receives the current goal.
"""

from __future__ import annotations

import uuid

from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.node import Node

from vla_wm_interfaces.msg import Goal
from vla_wm_interfaces.srv import SetGoal
from vla_wm_ros.language.grounding import Grounder
from vla_wm_ros.runtime import diagnostics, qos
from vla_wm_ros.runtime.instruction_check import instruction_problem
from vla_wm_ros.runtime.node_main import run_node
from vla_wm_ros.runtime.parameters import Param, declare_parameters
from vla_wm_ros.runtime.rejections import Rejections

PARAMETERS = [
    Param("device", "cpu", "where the sentence encoder runs", choices=("cpu", "cuda")),
    Param(
        "confidence_threshold",
        0.0,
        "lowest grounding confidence accepted; 0: the grounder's configured threshold",
        low=0.0,
        high=1.0,
    ),
    Param("max_chars", 1024, "longest instruction accepted (characters)", low=1, high=65536),
    Param("diagnostics_period", 1.0, "seconds between /diagnostics reports", low=0.1, high=60.0),
]


class InstructionParser(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__("instruction_parser", **kwargs)
        self.p = declare_parameters(self, PARAMETERS)
        self._grounder = Grounder.load(device=self.p.device)
        self._threshold = self.p.confidence_threshold or self._grounder.threshold
        self._rejections = Rejections(self.get_logger())
        self._current: Goal | None = None
        self._accepted = 0
        self._pub = self.create_publisher(Goal, "~/goal", qos.GOAL)
        self.create_service(
            SetGoal,
            "~/set_goal",
            self._on_set_goal,
            callback_group=MutuallyExclusiveCallbackGroup(),
        )
        self._diagnostics = diagnostics.Diagnostics(self, self._report, self.p.diagnostics_period)
        self.get_logger().info(f"grounding with threshold {self._threshold:.2f}")

    def _on_set_goal(self, request: SetGoal.Request, response: SetGoal.Response):
        text = request.instruction
        problem = instruction_problem(text, self.p.max_chars)
        grounding = None
        if problem is None:
            grounding = self._grounder.ground(text.strip())
            response.confidence = float(grounding.confidence)
            if not grounding.accepted:
                problem = grounding.reason
            elif grounding.confidence < self._threshold:
                problem = (
                    f"best match {grounding.task} has confidence {grounding.confidence:.2f}, "
                    f"below the threshold {self._threshold:.2f}"
                )
        if problem is not None:
            self._rejections.reject("instruction", problem)
            response.accepted = False
            response.message = problem
            return response

        goal = Goal(
            goal_id=uuid.uuid4().hex,
            instruction=text.strip(),
            task=grounding.task,
            confidence=float(grounding.confidence),
        )
        goal.header.stamp = self.get_clock().now().to_msg()
        goal.embedding = [float(v) for v in grounding.embedding]
        message = f"grounded to {goal.task} (confidence {goal.confidence:.2f})"
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

    def _report(self) -> diagnostics.Report:
        values = {
            "accepted": self._accepted,
            "threshold": self._threshold,
            "goal_id": self._current.goal_id if self._current else "-",
            "task": self._current.task if self._current else "-",
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
