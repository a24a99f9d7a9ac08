"""instruction_parser: `~/set_goal` (SetGoal) -> grounding -> Goal on a transient-local topic.

The grounder refuses, with its reason, what is not a sentence (empty, over 1024
characters, control characters, no letters), what is about nothing in the task suite
(similarity below min_similarity) and what is ambiguous between tasks (confidence below
min_confidence). An accepted goal gets a fresh id and
replaces the running one, and the response says which goal it replaced. The topic is
transient-local, so a planner started later still receives the current goal.
"""

from __future__ import annotations

import uuid

from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.node import Node

from vla_wm_interfaces.msg import Goal
from vla_wm_interfaces.srv import SetGoal
from vla_wm_ros.language.grounding import Grounder, GrounderConfig
from vla_wm_ros.ros import diagnostics, qos
from vla_wm_ros.ros.callback_guard import GuardedCallbacks
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
]


class InstructionParser(GuardedCallbacks, Node):
    def __init__(self, **kwargs) -> None:
        super().__init__("instruction_parser", **kwargs)
        self.p = declare_parameters(self, PARAMETERS)
        self._grounder = Grounder.from_config(
            GrounderConfig(
                min_similarity=self.p.min_similarity, min_confidence=self.p.min_confidence
            )
        )
        self._rejections = Rejections(self.get_logger())
        self._current: Goal | None = None
        self._accepted = 0
        self._pub = self.create_publisher(Goal, "~/goal", qos.GOAL)
        self.create_service(
            SetGoal,
            "~/set_goal",
            self._on_set_goal,
            qos_profile=qos.SERVICE,
            callback_group=MutuallyExclusiveCallbackGroup(),
        )
        self._diagnostics = diagnostics.Diagnostics(self, self._report, self.p.diagnostics_period)
        self.get_logger().info(
            f"grounding to {len(self._grounder.task_names)} tasks (similarity >= "
            f"{self.p.min_similarity:.2f}, confidence >= {self.p.min_confidence:.2f})"
        )

    def _on_set_goal(self, request: SetGoal.Request, response: SetGoal.Response):
        grounding = self._grounder.ground(request.instruction)
        response.confidence = float(grounding.confidence)
        if not grounding.accepted:
            self._rejections.reject("instruction", grounding.reason)
            response.accepted = False
            response.message = grounding.reason
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
