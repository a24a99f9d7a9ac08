"""An episode -> a rosbag2 folder (metadata.yaml + MCAP or sqlite3), through `rosbags`.

The folder holds what a robot would have recorded: the camera (sensor_msgs/Image rgb8, or
CompressedImage png/jpeg) with its camera_info, sensor_msgs/JointState with the state
names, the action as std_msgs/Float64MultiArray (what ros2_controllers' forward command
controller takes), the instruction once (std_msgs/String), reward (Float32) and success
(Bool). Each topic records the QoS it would be offered with on our graph (camera best
effort, commands reliable, instruction transient local), so `ros2 bag play` republishes it
the way subscribers expect. Stamps are real time (from `start_ns`, default now) or, with
`clock="sim"`, simulated time from zero with /clock, while the recording (log) time stays
real, as `ros2 bag record` does under use_sim_time. Names, task, robot type and action
bounds go into metadata.yaml's custom_data, so importing the folder gives them back.
"""

from __future__ import annotations

import json
import shutil
import time
import uuid
from pathlib import Path

import cv2
import numpy as np

from vla_wm_ros.data.bag_config import BagTopics
from vla_wm_ros.data.bag_messages import pinhole_info
from vla_wm_ros.data.bag_reader import CUSTOM_PREFIX
from vla_wm_ros.data.episode import Episode
from vla_wm_ros.data.layout import DatasetError
from vla_wm_ros.data.spec import DatasetSpec

BAG_VERSION = 8  # rosbag2 metadata version (Jazzy); rosbags writes 8 or 9
FOVY_DEG = 45.0  # MuJoCo's default field of view: the pinhole for sim data without intrinsics
JPEG_QUALITY = 95
IMAGE_FORMATS = ("raw", "png", "jpeg")
CLOCKS = ("real", "sim")


def _qos(reliable: bool, depth: int, transient_local: bool = False):
    from rosbags.interfaces import (
        Qos,
        QosDurability,
        QosHistory,
        QosLiveliness,
        QosReliability,
        QosTime,
    )

    zero = QosTime(0, 0)  # 0: the default (infinite) deadline, lifespan and lease
    return Qos(
        history=QosHistory.KEEP_LAST,
        depth=depth,
        reliability=QosReliability.RELIABLE if reliable else QosReliability.BEST_EFFORT,
        durability=QosDurability.TRANSIENT_LOCAL if transient_local else QosDurability.VOLATILE,
        deadline=zero,
        lifespan=zero,
        liveliness=QosLiveliness.AUTOMATIC,
        liveliness_lease_duration=zero,
        avoid_ros_namespace_conventions=False,
    )


def export_episode(
    episode: Episode,
    out: str | Path,
    spec: DatasetSpec,
    topics: BagTopics | None = None,
    *,
    storage: str = "mcap",
    image_format: str = "raw",
    clock: str = "real",
    start_ns: int | None = None,
) -> Path:
    """Write `episode` as the rosbag2 folder `out` (must not exist); returns `out`."""
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import Stores, get_typestore

    if image_format not in IMAGE_FORMATS:
        raise ValueError(f"image_format: one of {IMAGE_FORMATS}, got {image_format!r}")
    if clock not in CLOCKS:
        raise ValueError(f"clock: one of {CLOCKS}, got {clock!r}")
    out = Path(out)
    if out.exists():
        raise DatasetError(f"{out}: already exists; rosbag2 folders are never overwritten")
    topics = topics or BagTopics()
    ts = get_typestore(Stores.ROS2_HUMBLE)
    T = ts.types
    plugin = {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3}[storage]
    log_start = time.time_ns() if start_ns is None else start_ns
    stamp_start = 0 if clock == "sim" else log_start
    h, w = episode.images.shape[1:3]
    info = spec.extra.get("camera_info") or pinhole_info(h, w, FOVY_DEG, spec.camera or "camera")
    frame_id = info.get("frame_id") or "camera"

    def stamp(ns: int):
        return T["builtin_interfaces/msg/Time"](sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)

    def header(ns: int, frame: str):
        return T["std_msgs/msg/Header"](stamp=stamp(ns), frame_id=frame)

    image_type = (
        "sensor_msgs/msg/Image" if image_format == "raw" else "sensor_msgs/msg/CompressedImage"
    )
    plan = [  # (role, topic, type, qos)
        ("image", topics.image, image_type, _qos(False, 5)),
        ("camera_info", topics.camera_info, "sensor_msgs/msg/CameraInfo", _qos(False, 5)),
        ("joint_states", topics.joint_states, "sensor_msgs/msg/JointState", _qos(True, 10)),
        ("action", topics.action, "std_msgs/msg/Float64MultiArray", _qos(True, 10)),
        ("instruction", topics.instruction, "std_msgs/msg/String", _qos(True, 1, True)),
        ("reward", topics.reward, "std_msgs/msg/Float32", _qos(True, 10)),
        ("success", topics.success, "std_msgs/msg/Bool", _qos(True, 10)),
    ]
    if clock == "sim":
        plan.append(("clock", topics.clock, "rosgraph_msgs/msg/Clock", _qos(False, 1)))
    # Built in a hidden folder beside `out` (the storage file is named after the bag, so
    # the bag keeps its final name inside it) and moved into place when complete.
    staging = out.parent / f".{out.name}.partial-{uuid.uuid4().hex[:8]}"
    staging.mkdir(parents=True)
    try:
        with Writer(staging / out.name, version=BAG_VERSION, storage_plugin=plugin) as writer:
            custom = {
                "task": episode.task,
                "instruction": episode.instruction,
                "policy": episode.policy,
                "seed": "" if episode.seed is None else str(episode.seed),
                "robot_type": spec.robot_type,
                "camera": spec.camera,
                "state_names": json.dumps(spec.state_names),
                "action_names": json.dumps(spec.action_names),
                "action_low": json.dumps(spec.action_low),
                "action_high": json.dumps(spec.action_high),
                "fps": repr(spec.fps),
            }
            for key, value in custom.items():
                writer.set_custom_data(CUSTOM_PREFIX + key, value)
            conns = {
                role: (
                    writer.add_connection(topic, typ, typestore=ts, offered_qos_profiles=[qos]),
                    typ,
                )
                for role, topic, typ, qos in plan
                if topic
            }

            def emit(role: str, message, ns: int) -> None:
                if role in conns:
                    conn, typ = conns[role]
                    writer.write(conn, log_start + ns, ts.serialize_cdr(message, typ))

            joint_names = list(spec.state_names)
            for t in range(episode.length):
                ns = _offset_ns(episode.timestamp[t])
                at = stamp_start + ns
                if clock == "sim":
                    emit("clock", T["rosgraph_msgs/msg/Clock"](clock=stamp(at)), ns)
                if t == 0:
                    emit("instruction", T["std_msgs/msg/String"](data=episode.instruction), ns)
                emit("image", _image(T, episode.images[t], header(at, frame_id), image_format), ns)
                emit("camera_info", _camera_info(T, info, header(at, frame_id)), ns)
                emit(
                    "joint_states",
                    T["sensor_msgs/msg/JointState"](
                        header=header(at, ""),
                        name=joint_names,
                        position=episode.state[t].astype(np.float64),
                        velocity=np.zeros(0),
                        effort=np.zeros(0),
                    ),
                    ns,
                )
                layout = T["std_msgs/msg/MultiArrayLayout"](
                    dim=[
                        T["std_msgs/msg/MultiArrayDimension"](
                            label="action", size=spec.action_dim, stride=spec.action_dim
                        )
                    ],
                    data_offset=0,
                )
                act = episode.action[t].astype(np.float64)
                # The action follows the observation it answers: 1 ns later.
                emit("action", T["std_msgs/msg/Float64MultiArray"](layout=layout, data=act), ns + 1)
                emit("reward", T["std_msgs/msg/Float32"](data=float(episode.reward[t])), ns + 1)
                emit("success", T["std_msgs/msg/Bool"](data=bool(episode.success[t])), ns + 1)
        (staging / out.name).rename(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out


def _offset_ns(timestamp: np.float32) -> int:
    """ns since the episode start: whole microseconds (0.1 s, not float32's 100000001 ns)
    when that reads back as the same float32, else the nearest ns."""
    us = round(float(timestamp) * 1e6) * 1000
    return us if np.float32(us / 1e9) == np.float32(timestamp) else round(float(timestamp) * 1e9)


def _image(T, rgb: np.ndarray, header, image_format: str):
    """Image rgb8, or CompressedImage with compressed_image_transport's format string."""
    h, w = rgb.shape[:2]
    if image_format == "raw":
        return T["sensor_msgs/msg/Image"](
            header=header,
            height=h,
            width=w,
            encoding="rgb8",
            is_bigendian=0,
            step=w * 3,
            data=np.ascontiguousarray(rgb).reshape(-1),
        )
    params = [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY] if image_format == "jpeg" else []
    ok, buffer = cv2.imencode("." + image_format, np.ascontiguousarray(rgb[..., ::-1]), params)
    if not ok:
        raise ValueError(f"could not encode a {rgb.shape} frame as {image_format}")
    return T["sensor_msgs/msg/CompressedImage"](
        header=header, format=f"rgb8; {image_format} compressed bgr8", data=buffer.ravel()
    )


def _camera_info(T, info: dict, header):
    k = np.asarray(info["k"], dtype=np.float64)
    p = np.zeros(12)
    p[[0, 1, 2, 4, 5, 6, 10]] = k[[0, 1, 2, 3, 4, 5, 8]]
    return T["sensor_msgs/msg/CameraInfo"](
        header=header,
        height=int(info["height"]),
        width=int(info["width"]),
        distortion_model=str(info["distortion_model"]),
        d=np.asarray(info["d"], dtype=np.float64),
        k=k,
        r=np.eye(3).ravel(),
        p=p,
        binning_x=0,
        binning_y=0,
        roi=T["sensor_msgs/msg/RegionOfInterest"](
            x_offset=0, y_offset=0, height=0, width=0, do_rectify=False
        ),
    )
