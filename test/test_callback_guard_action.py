"""The callback guard on an action server (ros/callback_guard.create_action_server), on
real rclpy: an execute callback that raises ends its goal aborted with a refusal result
that names the error, the failure is counted, and the server takes the next goal."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.graph


def test_a_raising_execute_aborts_the_goal_with_a_refusal_and_the_server_goes_on():
    import rclpy
    from action_msgs.msg import GoalStatus
    from rclpy.action import ActionClient
    from rclpy.context import Context
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node

    from vla_wm_interfaces.action import ExecuteInstruction
    from vla_wm_ros.ros.callback_guard import GuardedCallbacks

    class Server(GuardedCallbacks, Node):
        def __init__(self, context) -> None:
            super().__init__("guarded_action_server", context=context)
            self.create_action_server(ExecuteInstruction, "~/execute", self._execute)

        def _execute(self, handle):
            if handle.request.instruction == "raise":
                raise ValueError("instruction 'raise' made the callback fail")
            handle.succeed()
            return ExecuteInstruction.Result(success=True, message="done")

    context = Context()
    rclpy.init(context=context)
    server = Server(context)
    client_node = Node("guarded_action_client", context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(server)
    executor.add_node(client_node)
    client = ActionClient(client_node, ExecuteInstruction, "/guarded_action_server/execute")

    def run(instruction: str):
        sent = client.send_goal_async(ExecuteInstruction.Goal(instruction=instruction))
        executor.spin_until_future_complete(sent, 10)
        assert sent.done() and sent.result().accepted
        result = sent.result().get_result_async()
        executor.spin_until_future_complete(result, 10)
        assert result.done()
        return result.result()

    try:
        assert client.wait_for_server(timeout_sec=10)
        bad = run("raise")
        assert bad.status == GoalStatus.STATUS_ABORTED
        assert not bad.result.success
        assert bad.result.message.startswith("refused: ValueError"), bad.result.message
        assert server.callback_failures.count == 1
        assert "action ~/execute" in server.callback_failures.report()["last_callback_failure"]
        good = run("open the drawer")
        assert good.status == GoalStatus.STATUS_SUCCEEDED and good.result.message == "done"
        assert server.callback_failures.count == 1
    finally:
        executor.shutdown()
        client.destroy()
        client_node.destroy_node()
        server.destroy_node()
        context.try_shutdown()
