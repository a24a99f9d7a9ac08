"""instruction_parser's `~/execute` action (ExecuteInstruction), apart from the parser.

Each goal is grounded by the parser (`accept`, the same grounding as `~/set_goal`), then
followed on PlanStatus (feedback every planner tick: step, predicted return and reward,
status) and EpisodeStatus (the simulator's success and episode end) until it succeeds,
fails, or is replaced, stopped or cancelled. A cancel publishes the stop goal (`stop`):
the planner holds from its next tick. Success is the simulator's word where sim_bridge
reports on the goal, else the learned signal (control/goal_progress.py). The server is
made through the node's callback guard (ros/callback_guard.create_action_server).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace

from rclpy.action import CancelResponse, GoalResponse
from rclpy.action.server import ServerGoalHandle
from rclpy.task import Future

from vla_wm_interfaces.action import ExecuteInstruction
from vla_wm_interfaces.msg import EpisodeStatus, Goal, PlanStatus
from vla_wm_ros.control.goal_progress import GoalProgress
from vla_wm_ros.ros import qos
from vla_wm_ros.ros.graph_client import STATUS_NAMES


@dataclass
class Running:
    """An ExecuteInstruction goal being carried out: its handle, task, progress and end."""

    handle: ServerGoalHandle
    task: str
    progress: GoalProgress
    done: Future


class InstructionAction:
    """`~/execute` on `node`; `accept(instruction)` -> (Goal or None, confidence, message)
    grounds and publishes, `stop(why)` publishes the stop goal; `p` holds success_reward,
    success_ticks and max_ticks."""

    def __init__(
        self,
        node,
        accept: Callable[[str], tuple[Goal | None, float, str]],
        stop: Callable[[str], None],
        p: SimpleNamespace,
    ) -> None:
        self._node, self._accept, self._stop, self._p = node, accept, stop, p
        self.running: Running | None = None
        self._simulator = False  # an EpisodeStatus was heard: success is the simulator's
        self.server = node.create_action_server(
            ExecuteInstruction,
            "~/execute",
            self._execute,
            goal_callback=lambda _request: GoalResponse.ACCEPT,
            cancel_callback=self._on_cancel,
            goal_service_qos_profile=qos.SERVICE,
            cancel_service_qos_profile=qos.SERVICE,
            result_service_qos_profile=qos.SERVICE,
        )
        node.create_subscription(PlanStatus, "plan_status", self._on_plan, qos.STATUS)
        node.create_subscription(EpisodeStatus, "episode", self._on_episode, qos.STATUS)

    def end(self, message: str) -> None:
        """The running goal (if any) ends with `message` (replaced, stopped)."""
        running, self.running = self.running, None
        if running is not None:
            running.progress.end(message)
            running.done.set_result(running.progress.outcome)

    def _on_cancel(self, handle: ServerGoalHandle) -> CancelResponse:
        running = self.running
        if running is not None and running.handle is handle:
            self.running = None
            self._stop(f"goal {running.progress.goal_id} cancelled")
            running.progress.end("cancelled")
            running.done.set_result(running.progress.outcome)
        return CancelResponse.ACCEPT

    async def _execute(self, handle: ServerGoalHandle) -> ExecuteInstruction.Result:
        goal, _confidence, message = self._accept(handle.request.instruction)
        if goal is None:
            handle.abort()
            return ExecuteInstruction.Result(success=False, message=f"refused: {message}")
        p = self._p
        running = Running(
            handle, goal.task, GoalProgress(
                goal.goal_id, p.success_reward, p.success_ticks, p.max_ticks, self._simulator
            ),
            Future(),
        )  # fmt: skip
        self.running = running
        handle.publish_feedback(ExecuteInstruction.Feedback(task=goal.task, goal_id=goal.goal_id))
        outcome = await running.done
        if handle.is_cancel_requested:
            handle.canceled()
        elif outcome.success:
            handle.succeed()
        else:
            handle.abort()
        self._node.get_logger().info(f"goal {goal.goal_id} ended: {outcome.message}")
        return ExecuteInstruction.Result(
            success=outcome.success,
            steps=running.progress.feedback.step,
            goal_id=goal.goal_id,
            message=outcome.message,
        )

    def _on_plan(self, msg: PlanStatus) -> None:
        running = self.running
        if running is None:
            return
        status = STATUS_NAMES.get(msg.status, str(msg.status))
        if running.progress.on_plan(msg.goal_id, status, msg.expected_return, msg.predicted_reward):
            self._progressed(running)

    def _on_episode(self, msg: EpisodeStatus) -> None:
        self._simulator = True
        running = self.running
        if running is not None and running.progress.on_episode(
            msg.goal_id, msg.step, msg.success, msg.done
        ):
            self._progressed(running)

    def _progressed(self, running: Running) -> None:
        fb = running.progress.feedback
        running.handle.publish_feedback(
            ExecuteInstruction.Feedback(
                task=running.task,
                goal_id=running.progress.goal_id,
                step=fb.step,
                predicted_return=fb.predicted_return,
                predicted_reward=fb.predicted_reward,
                status=fb.status,
            )
        )
        if running.progress.outcome is not None:
            self.running = None
            running.done.set_result(running.progress.outcome)

    def close(self) -> None:
        """Destroy the action server (Node.destroy_node leaves waitables to their owner)."""
        self.server.destroy()
