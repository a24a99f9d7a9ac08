"""The `main()` every node shares: init, spin until Ctrl-C or shutdown, clean up.

A node started by `ros2 run` / `ros2 launch` runs in its own process with a
multi-threaded executor (its callback groups decide what may overlap). Ctrl-C and an
external shutdown both end the spin quietly; the node's destroy_node() does its own
clean-up (the planner sends a last hold action there).
"""

from __future__ import annotations

import rclpy
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor


def run_node(node_class, args: list[str] | None = None) -> None:
    rclpy.init(args=args)
    node = None
    try:
        node = node_class()
        executor = MultiThreadedExecutor()
        executor.add_node(node)
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
