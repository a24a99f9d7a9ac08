"""Run the graph description's nodes in one process (`vla-wm run`, demo, eval, tests).

Each node is constructed with the command-line arguments launch_ros would give its
process (`--ros-args -r __node:=... --params-file ... -r from:=to`) and its parameter
dict as overrides, so the node sees exactly what `ros2 launch` would give it. All nodes
share one MultiThreadedExecutor; each node's callback groups decide what may overlap, so
a slow planner tick never blocks the camera path.
"""

from __future__ import annotations

import contextlib
import importlib
import threading

import rclpy
from rclpy.context import Context
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.signals import SignalHandlerOptions

from vla_wm_ros.runtime.graph import NodeSpec


def construct(spec: NodeSpec, context: Context) -> Node:
    """The node of `spec`, built as its own process would build it."""
    module = importlib.import_module(f"vla_wm_ros.nodes.{spec.executable}")
    return module.NODE_CLASS(
        context=context,
        cli_args=spec.ros_arguments(),
        use_global_arguments=False,
        parameter_overrides=[Parameter(k, value=v) for k, v in spec.parameters.items()],
    )


class InProcessGraph:
    """Nodes of `specs` on one executor, in their own rclpy context.

    Use as a context manager (`with InProcessGraph(specs) as graph: graph.start()`) or
    call `spin()` in the foreground; `close()` stops the executor, destroys the nodes
    while the context is still up (so the planner's last hold command goes out) and
    shuts the context down. rclpy's own signal handlers are not installed: Ctrl-C arrives
    as KeyboardInterrupt and the clean-up above runs.
    """

    def __init__(self, specs: list[NodeSpec], num_threads: int = 6) -> None:
        self.context = Context()
        rclpy.init(context=self.context, signal_handler_options=SignalHandlerOptions.NO)
        self.nodes: dict[str, Node] = {}
        self.executor: MultiThreadedExecutor | None = None
        self._thread: threading.Thread | None = None
        try:
            for spec in specs:
                self.nodes[spec.name] = construct(spec, self.context)
        except BaseException:
            self.close()
            raise
        self.executor = MultiThreadedExecutor(num_threads=num_threads, context=self.context)
        for node in self.nodes.values():
            self.executor.add_node(node)

    def spin(self) -> None:
        """Spin in this thread until Ctrl-C or the context shuts down."""
        with contextlib.suppress(KeyboardInterrupt, ExternalShutdownException):
            self.executor.spin()

    def start(self) -> None:
        """Spin in a background thread."""
        self._thread = threading.Thread(target=self.spin, name="vla-wm-graph", daemon=True)
        self._thread.start()

    def close(self) -> None:
        if self.executor is not None:
            self.executor.shutdown(timeout_sec=10)
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        for node in self.nodes.values():
            node.destroy_node()
        self.nodes.clear()
        self.context.try_shutdown()

    def __enter__(self) -> InProcessGraph:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
