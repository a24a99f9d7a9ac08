"""A second graph in the same ROS domain is refused before an evaluation measures both.

A graph of its own (not a module rig: the point is a domain shared by two).
"""

from __future__ import annotations

import pytest
from graph_fixtures import make_tiny_checkpoint, start_graph

pytestmark = [pytest.mark.graph, pytest.mark.slow]


def test_a_second_planner_in_the_domain_is_named_and_refused(tmp_path):
    import rclpy
    from rclpy.context import Context
    from rclpy.node import Node

    from vla_wm_ros.ros.graph import NODES
    from vla_wm_ros.ros.graph_client import GraphClient, GraphError

    graph = start_graph("mujoco", make_tiny_checkpoint(tmp_path / "tiny"))
    client = GraphClient(context=graph.context)
    other = Context()
    rclpy.init(context=other)
    try:
        client.check_alone(NODES)  # alone: nothing raised
        stray = Node("planner", context=other)  # as a forgotten evaluation's planner
        with pytest.raises(
            GraphError, match=r"another graph runs in ROS domain \d+ \(a second planner\)"
        ):
            client.check_alone(NODES)
        stray.destroy_node()
    finally:
        other.try_shutdown()
        client.close()
        graph.close()
