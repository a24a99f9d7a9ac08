"""What a rosbag2 recording holds, to write its import config before importing it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vla_wm_ros.data import bag_messages as M
from vla_wm_ros.data.bag_open import open_bag
from vla_wm_ros.data.layout import DatasetError


def describe_bag(path: str | Path) -> dict:
    """What a bag holds, to write its import config: storage, duration and, per topic,
    type, count, rate (median interval) and, for JointState, the joint names."""
    path = Path(path)
    with open_bag(path) as bag:
        reader = bag.reader
        times: dict[str, list[int]] = {}
        names: dict[str, list[str]] = {}
        try:
            for conn, ns, raw in reader.messages():
                times.setdefault(conn.topic, []).append(ns)
                if conn.msgtype in M.JOINT_TYPES and conn.topic not in names:
                    names[conn.topic] = list(reader.deserialize(raw, conn.msgtype).name)
        except Exception as exc:  # a broken storage file, however it breaks
            raise DatasetError(f"{path}: cannot read this {bag.storage} bag ({exc!r})") from None
        topics = {}
        for conn in reader.connections:
            stamps = np.asarray(times.get(conn.topic, []), dtype=np.int64)
            gaps = np.diff(np.sort(stamps))
            entry = {"type": conn.msgtype, "count": int(stamps.size)}
            if gaps.size and np.median(gaps) > 0:
                entry["rate_hz"] = round(1e9 / float(np.median(gaps)), 3)
            if conn.topic in names:
                entry["joints"] = names[conn.topic]
            topics[conn.topic] = entry
        every = [t for ts in times.values() for t in ts]
        return {
            "path": str(path),
            "storage": bag.storage,
            "duration_s": round((max(every) - min(every)) / 1e9, 3) if every else 0.0,
            "topics": dict(sorted(topics.items())),
            "custom_data": bag.custom,
        }
