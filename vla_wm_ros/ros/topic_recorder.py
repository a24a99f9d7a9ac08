"""Record live topics into a ROS 2 MCAP bag (rosbag2's layout: ros2msg schemas, CDR
messages), without rosbag2: raw subscriptions, the bytes written as they arrive."""

from __future__ import annotations

import time
from pathlib import Path

from rclpy.node import Node
from rclpy.qos import QoSProfile, QoSReliabilityPolicy

from vla_wm_ros.data.bags import message_definition


def record(node: Node, spin_once, topics: dict[str, type], path: Path, seconds: float) -> dict:
    """Record `topics` (name -> message class) heard by `node` for `seconds` into `path`;
    `spin_once()` services the node. Returns messages recorded per topic."""
    from mcap.writer import Writer

    path.parent.mkdir(parents=True, exist_ok=True)
    counts = dict.fromkeys(topics, 0)
    with path.open("wb") as stream:
        writer = Writer(stream)
        writer.start(profile="ros2", library="vla_wm_ros")
        channels = {}
        for topic, msg_type in topics.items():
            type_name = f"{msg_type.__module__.split('.')[0]}/msg/{msg_type.__name__}"
            schema = writer.register_schema(
                name=type_name,
                encoding="ros2msg",
                data=message_definition(type_name).encode(),
            )
            channels[topic] = writer.register_channel(
                topic=topic, message_encoding="cdr", schema_id=schema
            )

            def write(data: bytes, topic: str = topic) -> None:
                now = time.time_ns()
                writer.add_message(channels[topic], log_time=now, data=data, publish_time=now)
                counts[topic] += 1

            qos = QoSProfile(depth=100, reliability=QoSReliabilityPolicy.BEST_EFFORT)
            node.create_subscription(msg_type, topic, write, qos, raw=True)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            spin_once()
        writer.finish()
    return counts
