"""The lifecycle planner on real rclpy: nothing loads before configure, nothing is
commanded before activate, deactivate sends the hold and stops commanding, cleanup
releases, and `lifecycle: true` in the graph description starts it configured and active
(the in-process runner drives the transitions, as the launch file's events would)."""

from __future__ import annotations

import time

import pytest
from graph_fixtures import Probe, make_tiny_checkpoint

pytestmark = [pytest.mark.graph]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return make_tiny_checkpoint(tmp_path_factory.mktemp("tiny"))


def test_transitions_load_command_and_hold(model_dir):
    import rclpy
    from rclpy.context import Context
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.lifecycle import TransitionCallbackReturn
    from rclpy.parameter import Parameter
    from std_msgs.msg import Float64MultiArray

    from vla_wm_ros.nodes.lifecycle_planner import LifecyclePlanner
    from vla_wm_ros.ros import qos

    context = Context()
    rclpy.init(context=context)
    name = f"lc_planner_{time.monotonic_ns()}"
    node = LifecyclePlanner(
        context=context,
        cli_args=["--ros-args", "-r", f"__node:={name}"],
        parameter_overrides=[
            Parameter("model_dir", value=str(model_dir)),
            Parameter("backend", value="eager"),
            Parameter("control_frequency", value=20.0),
            Parameter("safe_action", value=[0.25]),
        ],
    )
    probe = Probe(context)
    heard = probe.listen(Float64MultiArray, f"/{name}/action", qos.COMMAND)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)

    def spin(seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            executor.spin_once(timeout_sec=0.01)
            probe.executor.spin_once(timeout_sec=0.01)

    try:
        assert not node._configured and not hasattr(node, "_loop")  # nothing loaded yet
        assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
        assert node._configured
        spin(0.5)
        assert heard == [], "commanded while only configured"
        assert node.trigger_activate() == TransitionCallbackReturn.SUCCESS
        spin(0.8)
        assert len(heard) >= 5 and all(list(m.data) == [0.25] * 4 for m in heard)
        assert node.trigger_deactivate() == TransitionCallbackReturn.SUCCESS
        spin(0.2)
        held = len(heard)
        spin(0.6)
        assert len(heard) == held, "commanded while inactive"
        assert list(heard[-1].data) == [0.25] * 4  # the deactivation hold
        assert node.trigger_cleanup() == TransitionCallbackReturn.SUCCESS
        assert not node._configured
        assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS  # loads again
    finally:
        probe.close()
        executor.shutdown()
        node.destroy_node()
        context.try_shutdown()


def test_a_failed_load_leaves_it_unconfigured(tmp_path):
    import rclpy
    from rclpy.context import Context
    from rclpy.lifecycle import TransitionCallbackReturn
    from rclpy.parameter import Parameter

    from vla_wm_ros.nodes.lifecycle_planner import LifecyclePlanner

    context = Context()
    rclpy.init(context=context)
    node = LifecyclePlanner(
        context=context,
        cli_args=["--ros-args", "-r", f"__node:=lc_bad_{time.monotonic_ns()}"],
        parameter_overrides=[Parameter("model_dir", value=str(tmp_path / "missing"))],
    )
    try:
        assert node.trigger_configure() == TransitionCallbackReturn.FAILURE
        assert not node._configured
    finally:
        node.destroy_node()
        context.try_shutdown()


def test_graph_argument_starts_the_lifecycle_planner_active(model_dir):
    from graph_fixtures import start_graph
    from rclpy.lifecycle import LifecycleNode
    from std_msgs.msg import Float64MultiArray

    from vla_wm_ros.ros import qos
    from vla_wm_ros.ros.graph import GraphArguments, describe

    specs = {s.name: s for s in describe(GraphArguments(sim="none", lifecycle="true"))}
    assert specs["planner"].executable == "lifecycle_planner"
    assert specs["planner"].launch_kwargs()["name"] == "planner"
    graph = start_graph("none", model_dir, overrides={"planner": {
        "action_sink.command": "normalised", "action_sink.topic": "~/lc_action"}},
        lifecycle="true")  # fmt: skip
    probe = Probe(graph.context)
    try:
        assert isinstance(graph.nodes["planner"], LifecycleNode)
        heard = probe.listen(Float64MultiArray, "/planner/lc_action", qos.COMMAND)
        assert probe.spin_until(lambda: len(heard) >= 2, 20), "the active planner never held"
    finally:
        probe.close()
        graph.close()
