"""rosbag2 recordings -> episodes, through `rosbags` (pure Python, no ROS install).

Accepts a rosbag2 folder (metadata.yaml, sqlite3 or MCAP storage), or a single .mcap or
.db3 file; the storage is told by the file's magic bytes, not its name. Message types come
from the definitions the bag carries, else from the Humble typestore (Humble's sqlite3
bags carry none).

One row per camera frame: the newest joint state at or before the frame (frames before
the first joint state are dropped), the first action after it and before the next frame
(else the previous action holds), and reward/success the same way. Images are
centre-cropped and resized to the model's size as they are read, so a long recording
never sits in memory at camera resolution. The rate is measured from the frame stamps.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from vla_wm_ros.data import bag_messages as M
from vla_wm_ros.data.bag_config import BagImportConfig
from vla_wm_ros.data.episode import Episode
from vla_wm_ros.data.images import square_resize
from vla_wm_ros.data.layout import DatasetError
from vla_wm_ros.data.spec import DatasetSpec

SQLITE_MAGIC = b"SQLite format 3\x00"
MCAP_MAGIC = b"\x89MCAP"
CUSTOM_PREFIX = "vla_wm."  # metadata.yaml custom_data keys our exporter writes

# Topic role -> message types it accepts.
ROLES = {
    "image": M.IMAGE_TYPES,
    "camera_info": M.CAMERA_INFO_TYPES,
    "joint_states": M.JOINT_TYPES,
    "action": M.ACTION_TYPES,
    "instruction": M.TEXT_TYPES,
    "reward": M.SCALAR_TYPES,
    "success": M.SCALAR_TYPES,
}
REQUIRED = ("image", "joint_states", "action")


@dataclass
class Recording:
    """One bag read into an episode, with what the dataset description needs."""

    path: Path
    episode: Episode
    state_names: list[str]
    action_names: list[str]
    fps: float  # measured from the frame stamps
    image_type: str
    camera_info: dict | None
    custom: dict[str, str] = field(default_factory=dict)  # our exporter's custom_data


def storage_of(path: Path) -> str:
    """'sqlite3' or 'mcap' from the file's first bytes; DatasetError for anything else."""
    with path.open("rb") as f:
        head = f.read(16)
    if head.startswith(SQLITE_MAGIC):
        return "sqlite3"
    if head.startswith(MCAP_MAGIC):
        return "mcap"
    raise DatasetError(
        f"{path}: neither an MCAP nor a SQLite3 (rosbag2 .db3) file (starts with {head[:8]!r})"
    )


def _custom_data(folder: Path) -> dict[str, str]:
    try:
        meta = yaml.safe_load((folder / "metadata.yaml").read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise DatasetError(f"{folder / 'metadata.yaml'}: unreadable ({exc})") from None
    info = meta.get("rosbag2_bagfile_information") or {}
    custom = info.get("custom_data") or {}
    return {
        k[len(CUSTOM_PREFIX) :]: str(v) for k, v in custom.items() if k.startswith(CUSTOM_PREFIX)
    }


@dataclass
class OpenBag:
    reader: object  # rosbags.highlevel.AnyReader, open
    storage: str  # "mcap", "sqlite3" or "rosbag2 folder (mcap)", ... for messages
    custom: dict[str, str]  # our exporter's custom_data (vla_wm.* keys, prefix removed)


@contextlib.contextmanager
def open_bag(path: str | Path):
    """An `OpenBag` over `path` (closed when the block ends)."""
    from rosbags.highlevel import AnyReader, AnyReaderError
    from rosbags.typesys import Stores, get_typestore

    path = Path(path)
    if not path.exists():
        raise DatasetError(
            f"{path}: no such bag (a rosbag2 folder with metadata.yaml, or a .mcap/.db3 file)"
        )
    custom: dict[str, str] = {}
    storage = "rosbag2 folder"
    with tempfile.TemporaryDirectory(prefix="bag-") as tmp:
        target = path
        if path.is_dir():
            files = sorted([*path.glob("*.mcap"), *path.glob("*.db3")])
            if (path / "metadata.yaml").is_file():
                custom = _custom_data(path)
                storage += f" ({', '.join(sorted({storage_of(f) for f in files})) or 'empty'})"
            elif len(files) == 1:  # metadata.yaml lost: the storage file alone is the bag
                target = files[0]
            else:
                raise DatasetError(
                    f"{path}: a folder without metadata.yaml and with {len(files)} storage "
                    "files (.mcap/.db3); not a rosbag2 bag"
                )
        if target.is_file():
            storage = storage_of(target)
            suffix = ".db3" if storage == "sqlite3" else ".mcap"
            if target.suffix != suffix:  # rosbags picks the storage by the file name
                link = Path(tmp) / f"bag{suffix}"
                link.symlink_to(target.absolute())
                target = link
        reader = AnyReader([target], default_typestore=get_typestore(Stores.ROS2_HUMBLE))
        try:
            reader.open()
        except (AnyReaderError, OSError, ValueError, KeyError, EOFError) as exc:
            raise DatasetError(f"{path}: cannot read this {storage} bag ({exc})") from None
        try:
            yield OpenBag(reader, storage, custom)
        finally:
            reader.close()


def _connections(reader, path: Path, cfg: BagImportConfig) -> dict[str, list]:
    """Connections per role, checked: required topics present, every type supported."""
    by_topic: dict[str, list] = {}
    for conn in reader.connections:
        by_topic.setdefault(conn.topic, []).append(conn)
    out = {}
    for role, types in ROLES.items():
        topic = getattr(cfg.topics, role)
        conns = by_topic.get(topic, []) if topic else []
        if not conns and role in REQUIRED:
            listing = ", ".join(f"{t} ({c[0].msgtype})" for t, c in sorted(by_topic.items()))
            raise DatasetError(
                f"{path}: no topic {topic!r} for the {role.replace('_', ' ')}; "
                f"topics in the bag: {listing or 'none'}"
            )
        for conn in conns:
            if conn.msgtype not in types:
                raise DatasetError(
                    f"{path}: topic {topic!r} has type {conn.msgtype}, which is not supported "
                    f"for the {role.replace('_', ' ')} (supported: {', '.join(types)})"
                )
        out[role] = conns
    return out


def _measured_fps(path: Path, times: np.ndarray) -> float:
    if len(times) < 2:
        raise DatasetError(f"{path}: {len(times)} camera frame(s); need at least 2")
    gap = float(np.median(np.diff(times)))
    if gap <= 0:
        raise DatasetError(f"{path}: camera frames share stamps; cannot measure their rate")
    return 1e9 / gap


def read_bag(path: str | Path, cfg: BagImportConfig | None = None) -> Recording:
    """One episode from one bag (see the module docstring)."""
    cfg = cfg or BagImportConfig()
    path = Path(path)
    with open_bag(path) as bag:
        reader = bag.reader
        conns = _connections(reader, path, cfg)
        wanted = [c for cs in conns.values() for c in cs]
        role_of = {c.id: role for role, cs in conns.items() for c in cs}
        streams: dict[str, list] = {role: [] for role in ROLES}
        crop = (0, 0, 1.0)
        info_msg = None
        image_type = conns["image"][0].msgtype
        try:
            for conn, log_ns, raw in reader.messages(connections=wanted):
                role = role_of[conn.id]
                where = f"{path}: topic {conn.topic!r}"
                try:
                    msg = reader.deserialize(raw, conn.msgtype)
                except Exception as exc:  # any decoding failure: name the topic
                    raise DatasetError(f"{where}: message does not decode ({exc!r})") from None
                ns = (M.stamp_ns(msg) if cfg.stamps == "header" else None) or log_ns
                if role == "image":
                    image, crop = square_resize(
                        M.image_rgb(msg, conn.msgtype, where), cfg.image_size
                    )
                    streams[role].append((ns, image))
                elif role == "camera_info":
                    info_msg = info_msg or msg
                else:
                    streams[role].append((ns, msg, conn.msgtype, where))
        except DatasetError:
            raise
        except Exception as exc:  # a broken storage file, however it breaks
            raise DatasetError(f"{path}: cannot read this {bag.storage} bag ({exc!r})") from None
    return _assemble(path, cfg, streams, crop, info_msg, image_type, bag.custom)


def check_rate(path: Path, measured: float, fps: float, tolerance: float) -> None:
    """DatasetError when the frames' rate is not `fps` within `tolerance` (relative)."""
    if abs(measured - fps) > tolerance * fps:
        raise DatasetError(
            f"{path}: camera frames are {1000 / measured:.2f} ms apart ({measured:.3f} Hz), "
            f"not {fps:g} Hz as expected (tolerance {tolerance:.0%}); pass the rate the data "
            "has (--fps), or leave it out to use the measured one"
        )


def _custom_list(custom: dict[str, str], key: str, size: int) -> list | None:
    try:
        value = json.loads(custom[key])
    except (KeyError, json.JSONDecodeError):
        return None
    return value if isinstance(value, list) and len(value) == size else None


def _latest(times: np.ndarray, t: int) -> int:
    """Index of the newest entry at or before t (-1: none)."""
    return int(np.searchsorted(times, t, side="right")) - 1


def _first_within(times: np.ndarray, t: int, end: int) -> int:
    """Index of the first entry in [t, end) (-1: none)."""
    k = int(np.searchsorted(times, t, side="left"))
    return k if k < len(times) and times[k] < end else -1


def _assemble(path, cfg, streams, crop, info_msg, image_type, custom) -> Recording:
    for stream in streams.values():
        stream.sort(key=lambda item: item[0])
    joints, actions = streams["joint_states"], streams["action"]
    for role in REQUIRED:
        if not streams[role]:
            raise DatasetError(f"{path}: no messages on {getattr(cfg.topics, role)!r} ({role})")
    joint_t = np.array([j[0] for j in joints], dtype=np.int64)
    images = [item for item in streams["image"] if item[0] >= joint_t[0]]
    if not images:
        raise DatasetError(f"{path}: no camera frame at or after the first joint state")
    image_t = np.array([t for t, _ in images], dtype=np.int64)
    fps = _measured_fps(path, image_t)
    if cfg.fps:
        check_rate(path, fps, cfg.fps, cfg.fps_tolerance)
    rows = len(images)

    state_names = list(cfg.joints) or list(joints[0][1].name)
    state = np.stack(
        [
            M.joint_positions(joints[_latest(joint_t, t)][1], state_names, joints[0][3])
            for t in image_t
        ]
    )

    action_t = np.array([a[0] for a in actions], dtype=np.int64)
    # JointState commands: every message read in one joint order (configured, else the first's).
    select = list(cfg.action_names) or M.action_names_of(actions[0][1], actions[0][2])
    vectors = [M.action_vector(m, typ, select, where) for _, m, typ, where in actions]
    sizes = {v.size for v in vectors}
    if len(sizes) != 1:
        raise DatasetError(f"{actions[0][3]}: action messages differ in size ({sorted(sizes)})")
    dim = sizes.pop()
    action_names = (
        list(cfg.action_names)
        or _custom_list(custom, "action_names", dim)
        or M.action_names_of(actions[0][1], actions[0][2])
        or [f"action_{i}" for i in range(dim)]
    )
    action = np.zeros((rows, dim), dtype=np.float32)
    scalars = {"reward": np.zeros(rows, dtype=np.float32), "success": np.zeros(rows, dtype=bool)}
    scalar_t = {k: np.array([s[0] for s in streams[k]], dtype=np.int64) for k in scalars}
    for i, t in enumerate(image_t):
        end = image_t[i + 1] if i + 1 < rows else np.iinfo(np.int64).max
        k = _first_within(action_t, t, end)
        if k >= 0:
            action[i] = vectors[k]
        elif i:
            action[i] = action[i - 1]  # no new command in this interval: the last one holds
        for key, target in scalars.items():
            k = _first_within(scalar_t[key], t, end)
            if k >= 0:
                target[i] = streams[key][k][1].data

    instruction = (
        cfg.instruction
        or (streams["instruction"][0][1].data if streams["instruction"] else "")
        or custom.get("instruction", "")
    )
    if not instruction:
        source = f"on {cfg.topics.instruction!r}" if cfg.topics.instruction else "topic set"
        raise DatasetError(f"{path}: no instruction {source}; pass one (--instruction)")
    done = np.zeros(rows, dtype=bool)
    done[-1] = True
    frames = np.stack([image for _, image in images])
    episode = Episode(
        images=frames,
        state=state,
        action=action,
        reward=scalars["reward"],
        success=scalars["success"],
        done=done,
        terminated=np.zeros(rows, dtype=bool),
        timestamp=((image_t - image_t[0]) / 1e9).astype(np.float32),
        instruction=instruction,
        task=cfg.task or custom.get("task") or "unknown",
        seed=int(custom["seed"]) if custom.get("seed") else None,
        policy=cfg.policy or custom.get("policy") or "expert",
    )
    info = M.camera_info(info_msg, crop, frames.shape[1:3]) if info_msg is not None else None
    return Recording(path, episode, state_names, action_names, fps, image_type, info, custom)


def dataset_spec(first: Recording, cfg: BagImportConfig) -> DatasetSpec:
    """The description of a dataset made from bags like `first`."""
    dim = len(first.action_names)
    low = list(cfg.action_low) or _custom_list(first.custom, "action_low", dim) or [-1.0] * dim
    high = list(cfg.action_high) or _custom_list(first.custom, "action_high", dim) or [1.0] * dim
    extra = {
        "image_topic": cfg.topics.image,
        "image_type": first.image_type,
        "measured_fps": round(first.fps, 4),
    }
    if first.camera_info is not None:
        extra["camera_info"] = first.camera_info
    robot = cfg.robot_type if cfg.robot_type != "unknown" else first.custom.get("robot_type")
    return DatasetSpec(
        fps=cfg.fps or round(first.fps, 2),
        image_shape=tuple(first.episode.images.shape[1:]),
        state_names=first.state_names,
        action_names=first.action_names,
        action_low=[float(v) for v in low],
        action_high=[float(v) for v in high],
        robot_type=robot or "unknown",
        source="rosbag2",
        camera=first.custom.get("camera") or cfg.topics.image,
        extra=extra,
    )


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
