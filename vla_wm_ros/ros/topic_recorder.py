"""Record live topics into a rosbag2 folder (MCAP storage), without rosbag2: raw
subscriptions, the CDR bytes written as they arrive, through `rosbags` (as the dataset
bags are, data/bag_writer.py); `ros2 bag play` and Foxglove read it."""

from __future__ import annotations

import time
from pathlib import Path

from rclpy.node import Node
from rclpy.qos import QoSProfile, QoSReliabilityPolicy


def type_name(msg_type: type) -> str:
    """`pkg/msg/Type` of a generated message class."""
    return f"{msg_type.__module__.split('.')[0]}/msg/{msg_type.__name__}"


def record(node: Node, spin_once, topics: dict[str, type], path: Path, seconds: float) -> dict:
    """Record `topics` (name -> message class) heard by `node` for `seconds` into the
    rosbag2 folder `path` (must not exist); `spin_once()` services the node. Returns
    messages recorded per topic."""
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import Stores, get_typestore

    store = get_typestore(Stores.ROS2_HUMBLE)
    counts = dict.fromkeys(topics, 0)
    with Writer(path, version=8, storage_plugin=StoragePlugin.MCAP) as writer:
        for topic, msg_type in topics.items():
            conn = writer.add_connection(topic, type_name(msg_type), typestore=store)

            def write(data: bytes, topic: str = topic, conn=conn) -> None:
                writer.write(conn, time.time_ns(), data)
                counts[topic] += 1

            qos = QoSProfile(depth=100, reliability=QoSReliabilityPolicy.BEST_EFFORT)
            node.create_subscription(msg_type, topic, write, qos, raw=True)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            spin_once()
    return counts


def read(path: Path, topics: set[str]) -> list[tuple[str, object]]:
    """(topic, message) of `topics` in a rosbag2 folder, in recording order."""
    from rosbags.highlevel import AnyReader
    from rosbags.typesys import Stores, get_typestore

    with AnyReader([path], default_typestore=get_typestore(Stores.ROS2_HUMBLE)) as reader:
        wanted = [c for c in reader.connections if c.topic in topics]
        return [
            (conn.topic, reader.deserialize(raw, conn.msgtype))
            for conn, _, raw in reader.messages(connections=wanted)
        ]
