"""ROS-free control-loop statistics, and the parameter and diagnostics helpers on a real
rclpy node."""

from __future__ import annotations

import pytest

from vla_wm_ros.control.loop_stats import LoopStats
from vla_wm_ros.ros.spin import spin_until


def test_loop_stats_rate_latency_and_misses():
    stats = LoopStats(period=0.1, window=50)
    assert stats.rate_hz() == 0.0
    for k in range(100):
        stats.record(start=k * 0.1, latency=0.25 if k % 10 == 0 else 0.02)
    summary = stats.summary()
    assert summary["rate_hz"] == pytest.approx(10.0)
    assert summary["ticks"] == 100 and summary["deadline_misses"] == 10
    assert summary["window_deadline_misses"] == 5  # the last 50 ticks
    assert summary["latency_p50_ms"] == pytest.approx(20.0)
    assert summary["latency_max_ms"] == pytest.approx(250.0)
    with pytest.raises(ValueError, match="period"):
        LoopStats(period=0.0)


@pytest.mark.graph
def test_parameters_get_descriptors_ranges_and_choices(ros_context, tmp_path):
    from rclpy.exceptions import InvalidParameterValueException
    from rclpy.node import Node

    from vla_wm_ros.ros.parameters import Param, declare_parameters

    table = [
        Param("rate", 10.0, "ticks per second", low=0.1, high=100.0),
        Param("mode", "planner", "what acts", choices=("planner", "random")),
        Param("names", [], "joint names"),
        Param("sink.scale", [1.0], "scale"),
        Param("steps", 5, "how many", low=0, high=10),
    ]
    params = tmp_path / "p.yaml"
    params.write_text(
        "n:\n  ros__parameters:\n    names: [a, b]\n    sink:\n      scale: [2.0, 3.0]\n"
    )
    node = Node(
        "n",
        context=ros_context,
        cli_args=["--ros-args", "--params-file", str(params)],
        use_global_arguments=False,
    )
    values = declare_parameters(node, table)
    assert values.rate == 10.0 and values.mode == "planner"
    assert values.names == ["a", "b"] and values.sink_scale == [2.0, 3.0]
    desc = node.describe_parameter("rate")
    assert desc.description == "ticks per second" and desc.read_only
    assert desc.floating_point_range[0].to_value == 100.0
    assert "one of: planner, random" in node.describe_parameter("mode").description
    node.destroy_node()

    empty = Node("n", context=ros_context, use_global_arguments=False)
    assert declare_parameters(empty, table).names == []
    empty.destroy_node()

    out_of_range = Node(
        "n",
        context=ros_context,
        cli_args=["--ros-args", "-p", "rate:=500.0"],
        use_global_arguments=False,
    )
    with pytest.raises(InvalidParameterValueException):
        declare_parameters(out_of_range, table)
    out_of_range.destroy_node()

    bad_choice = Node(
        "n",
        context=ros_context,
        cli_args=["--ros-args", "-p", "mode:=magic"],
        use_global_arguments=False,
    )
    with pytest.raises(ValueError, match=r"n\.mode = 'magic' is not one of planner, random"):
        declare_parameters(bad_choice, table)
    bad_choice.destroy_node()


@pytest.mark.graph
def test_diagnostics_helper_publishes_the_report(ros_context, executor):
    from diagnostic_msgs.msg import DiagnosticArray
    from rclpy.node import Node

    from vla_wm_ros.ros import diagnostics

    node = Node("reporter", context=ros_context, namespace="/robot")
    listener = Node("listener", context=ros_context)
    executor.add_node(node)
    executor.add_node(listener)
    got: list[DiagnosticArray] = []
    listener.create_subscription(DiagnosticArray, "/diagnostics", got.append, 10)
    diag = diagnostics.Diagnostics(
        node, lambda: (diagnostics.WARN, "slow", {"rate_hz": 9.51234567, "misses": 3}), 0.05
    )
    assert spin_until(executor, lambda: len(got) >= 2, timeout=10)
    status = got[-1].status[0]
    assert status.name == "robot/reporter" and status.hardware_id == "reporter"
    assert status.level == diagnostics.WARN and status.message == "slow"
    assert {kv.key: kv.value for kv in status.values} == {"rate_hz": "9.51235", "misses": "3"}
    count = len(got)
    diag.publish_now()
    assert spin_until(executor, lambda: len(got) > count, timeout=5)
