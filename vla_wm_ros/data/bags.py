"""Episodes <-> ROS 2 MCAP bags, without a ROS installation (mcap + mcap-ros2-support).

Export writes one episode as the topics a robot would record: sensor_msgs/Image (rgb8),
sensor_msgs/JointState (proprioception), std_msgs/Float64MultiArray (the action),
std_msgs/String (the instruction, once), and std_msgs/Float32 / std_msgs/Bool for the
simulator's reward and success. Import reads such a bag (recorded on a robot, topic names
by `BagTopics`) back into an `Episode`: one row per image, with the latest joint state at
or before the image and the first action after it (before the next image). Message
definitions come from the .msg files the ROS 2 wheels (or a ROS install) ship.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vla_wm_ros.data.episode import Episode
from vla_wm_ros.data.layout import DatasetError

# fmt: off
BUILTINS = frozenset({
    "bool", "byte", "char", "float32", "float64", "int8", "uint8", "int16", "uint16",
    "int32", "uint32", "int64", "uint64", "string", "wstring",
})
# fmt: on
SEPARATOR = "=" * 80
EXPORTED_TYPES = (
    "sensor_msgs/msg/Image",
    "sensor_msgs/msg/JointState",
    "std_msgs/msg/Float64MultiArray",
    "std_msgs/msg/String",
    "std_msgs/msg/Float32",
    "std_msgs/msg/Bool",
)


@dataclass
class BagTopics:
    """Topic names of a bag; empty reward/success/instruction topics are optional."""

    image: str = "/camera/image_raw"
    joint_states: str = "/joint_states"
    action: str = "/vla_wm/action"
    instruction: str = "/vla_wm/instruction"
    reward: str = "/vla_wm/reward"
    success: str = "/vla_wm/success"


def add_topic_arguments(parser: argparse.ArgumentParser) -> None:
    """--image-topic, --joint-topic, ...: one option per `BagTopics` field, same defaults."""
    for name, default in vars(BagTopics()).items():
        flag = "--" + ("joint" if name == "joint_states" else name) + "-topic"
        optional = " ('' if absent)" if name in ("reward", "success", "instruction") else ""
        parser.add_argument(
            flag,
            dest=f"{name}_topic",
            default=default,
            help=f"topic of the {name.replace('_', ' ')} messages{optional}",
        )


def topics_from_args(args: argparse.Namespace) -> BagTopics:
    return BagTopics(**{name: getattr(args, f"{name}_topic") for name in vars(BagTopics())})


def _msg_file(type_name: str) -> Path:
    package, _, name = type_name.split("/")
    prefixes = [sys.prefix, *os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep)]
    for prefix in filter(None, prefixes):
        path = Path(prefix) / "share" / package / "msg" / f"{name}.msg"
        if path.is_file():
            return path
    raise FileNotFoundError(f"no definition of {type_name} under {prefixes}")


def message_definition(type_name: str) -> str:
    """The ros2msg schema text of `pkg/msg/Type`: its .msg plus every type it uses."""
    seen: list[str] = []
    texts: dict[str, str] = {}

    def visit(full: str) -> None:
        if full in texts:
            return
        text = _msg_file(full).read_text()
        texts[full] = text
        seen.append(full)
        package = full.split("/")[0]
        for line in text.splitlines():
            tokens = line.split("#", 1)[0].split()
            if len(tokens) < 2 or "=" in tokens[1]:  # blank, comment or constant
                continue
            field_type = re.sub(r"(\[.*\]|<=\d+)$", "", tokens[0])
            if field_type in BUILTINS:
                continue
            if field_type == "Header":
                field_type = "std_msgs/Header"
            pkg, _, name = field_type.rpartition("/")
            visit(f"{pkg or package}/msg/{name}")

    visit(type_name)
    parts = [texts[type_name]]
    for dep in seen[1:]:
        pkg, _, name = dep.split("/")
        parts.append(f"{SEPARATOR}\nMSG: {pkg}/{name}\n{texts[dep]}")
    return "\n".join(parts)


def _stamp(ns: int) -> dict:
    return {"sec": ns // 1_000_000_000, "nanosec": ns % 1_000_000_000}


def export_episode(
    episode: Episode,
    path: str | Path,
    topics: BagTopics | None = None,
    state_names: list[str] | None = None,
    fps: float | None = None,
) -> Path:
    """Write `episode` to the MCAP file `path` (replaced atomically)."""
    from mcap_ros2.writer import Writer

    topics = topics or BagTopics()
    path = Path(path)
    tmp = path.with_name(path.name + ".partial")
    names = state_names or [f"joint_{i}" for i in range(episode.state.shape[1])]
    times = episode.timestamp.astype(np.float64) if fps is None else np.arange(episode.length) / fps
    with tmp.open("wb") as f:
        writer = Writer(f)
        schema = {t: writer.register_msgdef(t, message_definition(t)) for t in EXPORTED_TYPES}
        writer.add_metadata(
            "vla_wm",
            {
                "task": episode.task,
                "policy": episode.policy,
                "seed": "" if episode.seed is None else str(episode.seed),
            },
        )
        h, w = episode.images.shape[1:3]

        def emit(topic: str, msg_type: str, message: dict, ns: int) -> None:
            """One message, logged and published at `ns` (the replay keeps the timing)."""
            writer.write_message(topic, schema[msg_type], message, ns, ns)

        for t in range(episode.length):
            ns = int(np.rint(times[t] * 1e9))
            if t == 0 and topics.instruction:
                emit(topics.instruction, "std_msgs/msg/String", {"data": episode.instruction}, ns)
            image = {
                "header": {"stamp": _stamp(ns), "frame_id": "camera"},
                "height": h,
                "width": w,
                "encoding": "rgb8",
                "is_bigendian": 0,
                "step": w * 3,
                "data": episode.images[t].tobytes(),
            }
            emit(topics.image, "sensor_msgs/msg/Image", image, ns)
            joints = {
                "header": {"stamp": _stamp(ns), "frame_id": ""},
                "name": names,
                "position": episode.state[t].astype(np.float64).tolist(),
                "velocity": [],
                "effort": [],
            }
            emit(topics.joint_states, "sensor_msgs/msg/JointState", joints, ns)
            act_ns = ns + 1  # the action follows the observation it answers
            action = {
                "layout": {"dim": [], "data_offset": 0},
                "data": episode.action[t].astype(np.float64).tolist(),
            }
            emit(topics.action, "std_msgs/msg/Float64MultiArray", action, act_ns)
            reward, success = float(episode.reward[t]), bool(episode.success[t])
            if topics.reward:
                emit(topics.reward, "std_msgs/msg/Float32", {"data": reward}, act_ns)
            if topics.success:
                emit(topics.success, "std_msgs/msg/Bool", {"data": success}, act_ns)
        writer.finish()
    os.replace(tmp, path)
    return path


def _read(path: Path, topics: BagTopics) -> dict[str, list]:
    from mcap.exceptions import McapError
    from mcap_ros2.reader import read_ros2_messages

    wanted = {v: k for k, v in vars(topics).items() if v}
    out: dict[str, list] = {k: [] for k in vars(topics)}
    seen: set[str] = set()
    try:
        for m in read_ros2_messages(str(path)):
            seen.add(m.channel.topic)
            key = wanted.get(m.channel.topic)
            if key is not None:
                out[key].append((m.log_time_ns, m.ros_msg))
    except (McapError, OSError, ValueError, EOFError, KeyError) as exc:
        raise DatasetError(f"{path}: corrupt or truncated MCAP file ({exc!r})") from None
    for key in ("image", "joint_states", "action"):
        if not out[key]:
            raise DatasetError(
                f"{path}: no messages on {getattr(topics, key)!r} ({key}); "
                f"topics in the bag: {', '.join(sorted(seen)) or 'none'}"
            )
    return out


def _image_array(msg, path: Path) -> np.ndarray:
    channels = {"rgb8": 3, "bgr8": 3, "rgba8": 4, "bgra8": 4, "mono8": 1}.get(msg.encoding)
    if channels is None:
        raise DatasetError(f"{path}: image encoding {msg.encoding!r} is not supported")
    raw = np.frombuffer(bytes(msg.data), dtype=np.uint8)
    if msg.height * msg.step != raw.size or msg.step < msg.width * channels:
        raise DatasetError(f"{path}: image of {raw.size} bytes does not match its header")
    img = raw.reshape(msg.height, msg.step)[:, : msg.width * channels]
    img = img.reshape(msg.height, msg.width, channels)
    if msg.encoding.startswith("bgr"):
        img = img[..., [2, 1, 0]]
    elif channels == 1:
        img = np.repeat(img, 3, axis=2)
    return np.ascontiguousarray(img[..., :3])


def import_bag(
    path: str | Path, topics: BagTopics | None = None, task: str = "", instruction: str = ""
) -> Episode:
    """One episode from an MCAP bag: a row per image (see the module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: no such bag file")
    topics = topics or BagTopics()
    msgs = _read(path, topics)
    images = msgs["image"]
    image_t = np.array([t for t, _ in images], dtype=np.int64)
    joint_t = np.array([t for t, _ in msgs["joint_states"]], dtype=np.int64)
    action_t = np.array([t for t, _ in msgs["action"]], dtype=np.int64)
    joints = [np.asarray(m.position, dtype=np.float32) for _, m in msgs["joint_states"]]
    actions = [np.asarray(m.data, dtype=np.float32) for _, m in msgs["action"]]
    rows = len(images)
    state = np.empty((rows, joints[0].size), dtype=np.float32)
    action = np.zeros((rows, actions[0].size), dtype=np.float32)
    reward = np.zeros(rows, dtype=np.float32)
    success = np.zeros(rows, dtype=bool)
    scalar = {
        "reward": (reward, [t for t, _ in msgs["reward"]], [m.data for _, m in msgs["reward"]]),
        "success": (success, [t for t, _ in msgs["success"]], [m.data for _, m in msgs["success"]]),
    }
    for i, t in enumerate(image_t):
        j = max(int(np.searchsorted(joint_t, t, side="right")) - 1, 0)
        state[i] = joints[j]
        end = image_t[i + 1] if i + 1 < rows else np.iinfo(np.int64).max
        k = int(np.searchsorted(action_t, t, side="left"))
        if k < len(actions) and action_t[k] < end:
            action[i] = actions[k]
        elif i:
            action[i] = action[i - 1]  # no new command in this interval: the last one holds
        for target, times, values in scalar.values():
            k = int(np.searchsorted(np.asarray(times, dtype=np.int64), t, side="left"))
            if k < len(values) and times[k] < end:
                target[i] = values[k]
    done = np.zeros(rows, dtype=bool)
    done[-1] = True
    text = instruction or (msgs["instruction"][0][1].data if msgs["instruction"] else "")
    if not text:
        raise DatasetError(f"{path}: no instruction on {topics.instruction!r}; pass one")
    return Episode(
        images=np.stack([_image_array(m, path) for _, m in images]),
        state=state,
        action=action,
        reward=reward,
        success=success,
        done=done,
        terminated=np.zeros(rows, dtype=bool),
        timestamp=((image_t - image_t[0]) / 1e9).astype(np.float32),
        instruction=text,
        task=task or "unknown",
        policy="bag",
    )
