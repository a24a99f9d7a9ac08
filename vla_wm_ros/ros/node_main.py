"""The `main()` every node shares: init, spin until Ctrl-C or shutdown, clean up.

A node started by `ros2 run` / `ros2 launch` runs in its own process on a
single-threaded executor: rclpy's MultiThreadedExecutor busy-loops while a callback it
dispatched waits for a pool thread (see ros/in_process.py). rclpy's signal
handlers are not installed, so Ctrl-C arrives as KeyboardInterrupt while the context is
still up: the node's destroy_node() can still publish (the planner sends a last hold
action there) before the context shuts down.
"""

from __future__ import annotations

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.signals import SignalHandlerOptions


def run_node(node_class, args: list[str] | None = None) -> None:
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    node = None
    try:
        node = node_class()
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
