"""Run the graph description's nodes in one process (`vla-wm run`, demo, eval, tests).

Each node is constructed with the command-line arguments launch_ros would give its
process (`--ros-args -r __node:=... --params-file ... -r from:=to`) and its parameter
dict as overrides, so the node sees exactly what `ros2 launch` would give it. Each node
spins its own SingleThreadedExecutor in a thread of its own, as it would in its own
process: a slow planner tick never blocks the camera path.

Not one MultiThreadedExecutor for all: while any callback it has dispatched waits for a
pool thread, rclpy's MultiThreadedExecutor re-yields it without blocking in rcl_wait, so
its spin thread busy-loops in Python holding the GIL. Measured with this graph on the
2-core machine: the spin thread at 87-97 % of a core, ~1250 wait sets built per second
with nothing ready, and an actor-only tick at p50 208 ms instead of 1.4 ms.
"""

from __future__ import annotations

import contextlib
import importlib
import threading
import time

import rclpy
from rclpy.context import Context
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.lifecycle import LifecycleNode, TransitionCallbackReturn
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.signals import SignalHandlerOptions

from vla_wm_ros.ros.graph import NodeSpec


def construct(spec: NodeSpec, context: Context) -> Node:
    """The node of `spec`, built as its own process would build it; a lifecycle node is
    then configured and activated, as the launch file's transition events would."""
    module = importlib.import_module(f"vla_wm_ros.nodes.{spec.executable}")
    node = module.NODE_CLASS(
        context=context,
        cli_args=spec.ros_arguments(),
        use_global_arguments=False,
        parameter_overrides=[Parameter(k, value=v) for k, v in spec.parameters.items()],
    )
    if isinstance(node, LifecycleNode):
        for transition in (node.trigger_configure, node.trigger_activate):
            if transition() != TransitionCallbackReturn.SUCCESS:
                node.destroy_node()
                raise RuntimeError(f"{spec.name}: lifecycle {transition.__name__} failed")
    return node


class InProcessGraph:
    """Nodes of `specs`, one executor and thread each, in their own rclpy context.

    Use as a context manager (`with InProcessGraph(specs) as graph: graph.start()`) or
    call `spin()` in the foreground; `close()` stops the executors, destroys the nodes
    while the context is still up (so the planner's last hold command goes out) and
    shuts the context down. rclpy's own signal handlers are not installed: Ctrl-C arrives
    as KeyboardInterrupt and the clean-up above runs.
    """

    def __init__(self, specs: list[NodeSpec]) -> None:
        self.context = Context()
        rclpy.init(context=self.context, signal_handler_options=SignalHandlerOptions.NO)
        self.nodes: dict[str, Node] = {}
        self.specs = {spec.name: spec for spec in specs}
        self._executors: dict[Node, SingleThreadedExecutor] = {}
        self._threads: dict[Node, threading.Thread] = {}
        self._started = False
        try:
            for spec in specs:
                self.nodes[spec.name] = construct(spec, self.context)
        except BaseException:
            self.close()
            raise
        for node in self.nodes.values():
            self.add(node)

    def add(self, node: Node) -> None:
        """Spin `node` (of this context) on an executor of its own, from start() on."""
        executor = SingleThreadedExecutor(context=self.context)
        executor.add_node(node)
        self._executors[node] = executor
        if self._started:
            self._spin_in_thread(node)

    def remove(self, node: Node) -> None:
        """Stop spinning a node given to add(); the caller destroys it."""
        executor = self._executors.pop(node)
        executor.shutdown(timeout_sec=10)
        thread = self._threads.pop(node, None)
        if thread is not None:
            thread.join(timeout=10)

    def respawn(self, name: str) -> Node:
        """Kill node `name` and start a new one from its spec, as launch's respawn would."""
        old = self.nodes.pop(name)
        self.remove(old)
        old.destroy_node()
        node = self.nodes[name] = construct(self.specs[name], self.context)
        self.add(node)
        return node

    def dead_nodes(self) -> list[str]:
        """Nodes whose spin thread has ended while the graph runs (a crashed executor)."""
        alive = {node for node, thread in self._threads.items() if thread.is_alive()}
        return [name for name, node in self.nodes.items() if node not in alive]

    def _spin_in_thread(self, node: Node) -> None:
        def spin() -> None:
            with contextlib.suppress(ExternalShutdownException):
                self._executors[node].spin()

        thread = threading.Thread(target=spin, name=f"vla-wm-{node.get_name()}", daemon=True)
        self._threads[node] = thread
        thread.start()

    def start(self) -> None:
        """Spin every node in a background thread."""
        self._started = True
        for node in self._executors:
            self._spin_in_thread(node)

    def spin(self) -> None:
        """Spin until Ctrl-C or the context shuts down."""
        self.start()
        with contextlib.suppress(KeyboardInterrupt):
            while self.context.ok() and any(t.is_alive() for t in self._threads.values()):
                time.sleep(0.2)

    def close(self) -> None:
        for executor in self._executors.values():
            executor.shutdown(timeout_sec=10)
        for thread in self._threads.values():
            thread.join(timeout=10)
        self._executors.clear()
        self._threads.clear()
        # Reverse start order: the planner goes first, so its final hold still reaches the
        # simulator (or the robot bridge) before that node goes.
        for node in reversed(list(self.nodes.values())):
            node.destroy_node()
        self.nodes.clear()
        self.context.try_shutdown()

    def __enter__(self) -> InProcessGraph:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
