"""Helpers for the runtime graph tests: a tiny checkpoint, a running graph, a probe node.

The checkpoint is the `tiny` preset with random weights (seeded): enough for rate,
wiring and robustness tests, which never judge the quality of the actions.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np


def make_tiny_checkpoint(directory: Path, action_dim: int = 4, proprio_dim: int = 4) -> Path:
    import torch

    from vla_wm_ros.config.model import load_preset
    from vla_wm_ros.models.checkpoint import save_checkpoint
    from vla_wm_ros.models.world_model import WorldModel

    torch.manual_seed(0)
    model = WorldModel(load_preset("tiny"), action_dim=action_dim, proprio_dim=proprio_dim)
    return save_checkpoint(model, directory)


def start_graph(sim: str, model_dir: Path, overrides: dict | None = None, **arguments):
    """The controller graph for profile `sim`, spinning in a background thread.

    The backend is ONNX Runtime unless given: one compiled backend, deterministically,
    rather than `auto`'s measured choice (test_deploy covers auto).
    """
    from vla_wm_ros.ros.graph import GraphArguments, describe
    from vla_wm_ros.ros.in_process import InProcessGraph

    arguments.setdefault("backend", "onnxruntime")
    args = GraphArguments(sim=sim, model_dir=str(model_dir), **arguments)
    graph = InProcessGraph(describe(args, overrides))
    graph.start()
    return graph


class Probe:
    """A test node in the graph's context with its own executor: records what it hears."""

    def __init__(self, context, name: str = "probe") -> None:
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.node import Node

        self.node = Node(name, context=context)
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(self.node)
        self.heard: dict[str, list] = {}
        self.times: dict[str, list[float]] = {}

    def listen(self, msg_type, topic: str, qos=None) -> list:
        """Record `topic`; best effort by default, which matches every publisher."""
        from rclpy.qos import QoSProfile, QoSReliabilityPolicy

        if qos is None:
            qos = QoSProfile(depth=100, reliability=QoSReliabilityPolicy.BEST_EFFORT)
        self.heard[topic], self.times[topic] = [], []

        def record(msg, topic=topic):
            self.heard[topic].append(msg)
            self.times[topic].append(time.monotonic())

        self.node.create_subscription(msg_type, topic, record, qos)
        return self.heard[topic]

    def spin_until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        from vla_wm_ros.ros.spin import spin_until

        return spin_until(self.executor, predicate, timeout)

    def spin_for(self, seconds: float) -> None:
        self.spin_until(lambda: False, seconds)

    def call(self, srv_type, name: str, request, timeout: float = 30.0):
        client = self.node.create_client(srv_type, name)
        assert self.spin_until(client.service_is_ready, timeout), f"{name} never appeared"
        future = client.call_async(request)
        assert self.spin_until(future.done, timeout), f"{name} did not answer"
        return future.result()

    def logs(self, node_name: str, containing: str) -> list[str]:
        """Messages `node_name` logged (heard on /rosout) that contain `containing`."""
        return [
            m.msg
            for m in self.heard.get("/rosout", [])
            if m.name == node_name and containing in m.msg
        ]

    def close(self) -> None:
        self.executor.remove_node(self.node)
        self.node.destroy_node()
        self.executor.shutdown()


def rosout_qos():
    from rclpy.qos import QoSDurabilityPolicy, QoSProfile, QoSReliabilityPolicy

    return QoSProfile(
        depth=1000,
        reliability=QoSReliabilityPolicy.RELIABLE,
        durability=QoSDurabilityPolicy.TRANSIENT_LOCAL,
    )


def rate_hz(times: list[float]) -> float:
    """Messages per second between the first and last of `times`."""
    return (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0


def camera_image(rng: np.random.Generator, size: int = 64, encoding: str = "rgb8", stamp=None):
    """A random frame, stamped `stamp` (a builtin_interfaces Time) or now (system clock)."""
    from rclpy.clock import Clock

    from vla_wm_ros.ros.image_conversion import rgb_to_image

    image = rgb_to_image(rng.integers(0, 256, (size, size, 3), dtype=np.uint8), encoding)
    image.header.stamp = stamp if stamp is not None else Clock().now().to_msg()
    return image


def thread_cpu_seconds() -> dict[str, float]:
    """CPU seconds used so far by each Python thread of this process, by thread name."""
    import os
    import threading

    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for thread in threading.enumerate():
        try:
            with open(f"/proc/self/task/{thread.native_id}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the thread ended meanwhile
        out[thread.name] = (int(fields[11]) + int(fields[12])) / tick  # utime + stime
    return out
