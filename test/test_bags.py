"""rosbag2 interop through rosbags, on bags this file writes with rosbags' own Writer.

- Folders in both storages (sqlite3, MCAP) with Image (bgr8) or CompressedImage (jpeg,
  png), camera_info, JointState at 50 Hz (more joints than the state, in another order)
  and the action at the camera's 20 Hz: joints picked by name, images cropped and resized
  to 64x64, the rate measured, camera intrinsics following the crop.
- Single .mcap/.db3 files, a sqlite file under a .mcap name, a folder without metadata,
  and clear errors: garbage, a truncated sqlite bag (never called MCAP), an unsupported
  message type (topic and type named), a missing joint, a rate that disagrees with --fps.
- `vla-wm bag import` on bags recorded at 20 Hz, then `vla-wm train --preset tiny` on the
  imported dataset, end to end.
- dataset -> `vla-wm bag export` (rosbag2 folder) -> `vla-wm bag import`: identical arrays
  for raw and png images, within JPEG tolerance for jpeg; the folder has metadata.yaml,
  offered QoS, camera_info, and real stamps (or sim stamps with /clock).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from rosbags.rosbag2 import Reader, StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

from vla_wm_ros.config.loader import load_yaml
from vla_wm_ros.data.bag_config import BagImportConfig, BagTopics
from vla_wm_ros.data.bag_reader import read_bag
from vla_wm_ros.data.bag_writer import export_episode
from vla_wm_ros.data.episode import Episode
from vla_wm_ros.data.layout import DatasetError
from vla_wm_ros.data.reader import EpisodeDataset
from vla_wm_ros.data.spec import DatasetSpec
from vla_wm_ros.data.writer import DatasetWriter

ROOT = Path(__file__).resolve().parents[1]
TS = get_typestore(Stores.ROS2_HUMBLE)
T = TS.types
H, W = 96, 128  # camera resolution: cropped to 96x96 (x from 16), then resized to 64
FRAMES, CAMERA_HZ, JOINT_HZ = 24, 20, 50
JOINTS = ["wrist", "elbow", "shoulder", "gripper"]  # message order; the state picks 3
STATE_JOINTS = ["shoulder", "elbow", "gripper"]
START_NS = 1_764_000_000_000_000_000  # 2025-11-24: a real robot's clock
K = [100.0, 0.0, 64.0, 0.0, 100.0, 48.0, 0.0, 0.0, 1.0]


def camera_frame(t: int) -> np.ndarray:
    """Smooth RGB frame t (so lossy codecs stay close), distinct per frame."""
    y, x = np.mgrid[0:H, 0:W]
    r = (x * 2 + t * 7) % 256
    g = (y * 2 + t * 3) % 256
    b = np.full_like(x, 40 + 8 * t)
    return np.stack([r, g, b], axis=-1).astype(np.uint8)


def joint_value(name: str, ns: int) -> float:
    return JOINTS.index(name) + ns / 1e9


def action_value(t: int) -> list[float]:
    return [0.1 * t, -0.05 * t]


def _stamp(ns: int):
    return T["builtin_interfaces/msg/Time"](sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


def _header(ns: int, frame: str = "cam"):
    return T["std_msgs/msg/Header"](stamp=_stamp(ns), frame_id=frame)


def write_robot_bag(
    path: Path,
    storage: str = "sqlite3",
    image: str = "raw",
    action_type: str = "std_msgs/msg/Float64MultiArray",
    frames: int = FRAMES,
) -> Path:
    """A robot recording written by rosbags' Writer (independent of our exporter)."""
    plugin = StoragePlugin.SQLITE3 if storage == "sqlite3" else StoragePlugin.MCAP
    image_type = "sensor_msgs/msg/Image" if image == "raw" else "sensor_msgs/msg/CompressedImage"
    with Writer(path, version=8, storage_plugin=plugin) as w:
        cam = w.add_connection("/cam/image", image_type, typestore=TS)
        info = w.add_connection("/cam/camera_info", "sensor_msgs/msg/CameraInfo", typestore=TS)
        js = w.add_connection("/joint_states", "sensor_msgs/msg/JointState", typestore=TS)
        act = w.add_connection("/cmd", action_type, typestore=TS)
        text = w.add_connection("/instruction", "std_msgs/msg/String", typestore=TS)
        w.write(
            text,
            START_NS,
            TS.serialize_cdr(T["std_msgs/msg/String"](data="pick the cube"), "std_msgs/msg/String"),
        )
        end = START_NS + frames * 1_000_000_000 // CAMERA_HZ
        for ns in range(START_NS - 10_000_000, end, 1_000_000_000 // JOINT_HZ):
            msg = T["sensor_msgs/msg/JointState"](
                header=_header(ns, ""),
                name=JOINTS,
                position=np.array([joint_value(n, ns) for n in JOINTS]),
                velocity=np.zeros(0),
                effort=np.zeros(0),
            )
            w.write(js, ns, TS.serialize_cdr(msg, "sensor_msgs/msg/JointState"))
        for t in range(frames):
            ns = START_NS + t * 1_000_000_000 // CAMERA_HZ
            rgb = camera_frame(t)
            if image == "raw":
                bgr = np.ascontiguousarray(rgb[..., ::-1])
                msg = T["sensor_msgs/msg/Image"](
                    header=_header(ns), height=H, width=W, encoding="bgr8", is_bigendian=0,
                    step=W * 3, data=bgr.reshape(-1),
                )  # fmt: skip
            else:
                ok, buf = cv2.imencode("." + image, np.ascontiguousarray(rgb[..., ::-1]))
                assert ok
                msg = T["sensor_msgs/msg/CompressedImage"](
                    header=_header(ns), format=image, data=buf.ravel()
                )
            w.write(cam, ns, TS.serialize_cdr(msg, image_type))
            cinfo = T["sensor_msgs/msg/CameraInfo"](
                header=_header(ns), height=H, width=W, distortion_model="plumb_bob",
                d=np.zeros(5), k=np.array(K), r=np.eye(3).ravel(), p=np.zeros(12),
                binning_x=0, binning_y=0,
                roi=T["sensor_msgs/msg/RegionOfInterest"](
                    x_offset=0, y_offset=0, height=0, width=0, do_rectify=False
                ),
            )  # fmt: skip
            w.write(info, ns, TS.serialize_cdr(cinfo, "sensor_msgs/msg/CameraInfo"))
            if action_type == "std_msgs/msg/String":
                amsg = T["std_msgs/msg/String"](data="go")
            elif action_type == "sensor_msgs/msg/JointState":  # names in another order
                amsg = T[action_type](
                    header=_header(ns),
                    name=["vz", "vx"],
                    position=np.array(action_value(t)[::-1]),
                    velocity=np.zeros(0),
                    effort=np.zeros(0),
                )
            elif action_type == "trajectory_msgs/msg/JointTrajectory":
                point = T["trajectory_msgs/msg/JointTrajectoryPoint"](
                    positions=np.array(action_value(t)),
                    velocities=np.zeros(0),
                    accelerations=np.zeros(0),
                    effort=np.zeros(0),
                    time_from_start=T["builtin_interfaces/msg/Duration"](sec=0, nanosec=0),
                )
                amsg = T[action_type](header=_header(ns), joint_names=["vx", "vz"], points=[point])
            elif action_type == "geometry_msgs/msg/TwistStamped":
                vec = T["geometry_msgs/msg/Vector3"]
                amsg = T[action_type](
                    header=_header(ns),
                    twist=T["geometry_msgs/msg/Twist"](
                        linear=vec(x=action_value(t)[0], y=action_value(t)[1], z=0.0),
                        angular=vec(x=0.0, y=0.0, z=0.5),
                    ),
                )
            else:
                amsg = T[action_type](
                    layout=T["std_msgs/msg/MultiArrayLayout"](dim=[], data_offset=0),
                    data=np.array(action_value(t)),
                )
            w.write(act, ns + 2_000_000, TS.serialize_cdr(amsg, action_type))
    return path


def config(**kw) -> BagImportConfig:
    topics = BagTopics(
        image="/cam/image",
        camera_info="/cam/camera_info",
        joint_states="/joint_states",
        action="/cmd",
        instruction="/instruction",
        reward="",
        success="",
    )
    return BagImportConfig(
        **({"topics": topics, "joints": list(STATE_JOINTS), "robot_type": "so100"} | kw)
    )


def expected_frame(t: int) -> np.ndarray:
    """The 64x64 frame the importer must produce: centre square of the camera, resized."""
    crop = camera_frame(t)[:, 16:112]
    return cv2.resize(crop, (64, 64), interpolation=cv2.INTER_AREA)


@pytest.mark.parametrize(
    ("storage", "image", "tolerance"),
    [("sqlite3", "raw", 0), ("mcap", "raw", 0), ("mcap", "jpeg", 6.0), ("sqlite3", "png", 0)],
)
def test_robot_bag_folder_is_read_by_name_at_model_size(tmp_path, storage, image, tolerance):
    bag = write_robot_bag(tmp_path / "rec", storage, image)
    rec = read_bag(bag, config())
    ep = rec.episode
    assert ep.images.shape == (FRAMES, 64, 64, 3)
    want = np.stack([expected_frame(t) for t in range(FRAMES)])
    err = np.abs(ep.images.astype(np.float64) - want).mean()
    assert err <= tolerance, err
    if tolerance == 0:
        assert np.array_equal(ep.images, want)
    assert abs(rec.fps - CAMERA_HZ) < 1e-6
    assert rec.state_names == STATE_JOINTS
    # Row t: the newest 50 Hz joint state at or before frame t, picked by name.
    frame_ns = START_NS + np.arange(FRAMES) * (1_000_000_000 // CAMERA_HZ)
    joint_ns = np.arange(START_NS - 10_000_000, frame_ns[-1] + 1, 1_000_000_000 // JOINT_HZ)
    latest = joint_ns[np.searchsorted(joint_ns, frame_ns, side="right") - 1]
    for j, name in enumerate(STATE_JOINTS):
        want_j = np.array([joint_value(name, int(ns)) for ns in latest], dtype=np.float32)
        assert np.array_equal(ep.state[:, j], want_j), name
    assert np.allclose(ep.action, np.array([action_value(t) for t in range(FRAMES)]))
    assert ep.instruction == "pick the cube" and ep.policy == "expert"
    assert np.allclose(ep.timestamp, np.arange(FRAMES) / CAMERA_HZ)
    # Intrinsics follow the crop (x0 = 16) and the 96 -> 64 scale.
    k = np.array(rec.camera_info["k"]).reshape(3, 3)
    assert np.allclose(k[0], [100 * 2 / 3, 0, (64 - 16) * 2 / 3])
    assert rec.camera_info["width"] == rec.camera_info["height"] == 64


def test_joint_state_trajectory_and_twist_actions_by_name(tmp_path):
    bag = write_robot_bag(tmp_path / "js", "mcap", action_type="sensor_msgs/msg/JointState")
    rec = read_bag(bag, config(action_names=["vx", "vz"]))
    assert rec.action_names == ["vx", "vz"]
    assert np.allclose(rec.episode.action, [action_value(t) for t in range(FRAMES)])
    rec = read_bag(bag, config())  # no names configured: the message's own order
    assert rec.action_names == ["vz", "vx"]
    assert np.allclose(rec.episode.action[:, ::-1], [action_value(t) for t in range(FRAMES)])

    traj = write_robot_bag(
        tmp_path / "jt", "mcap", action_type="trajectory_msgs/msg/JointTrajectory"
    )
    rec = read_bag(traj, config(action_names=["vz", "vx"]))
    assert np.allclose(rec.episode.action[:, ::-1], [action_value(t) for t in range(FRAMES)])

    bag = write_robot_bag(tmp_path / "tw", "sqlite3", action_type="geometry_msgs/msg/TwistStamped")
    rec = read_bag(bag, config())
    assert rec.action_names[:3] == ["linear_x", "linear_y", "linear_z"]
    assert np.allclose(rec.episode.action[:, :2], [action_value(t) for t in range(FRAMES)])
    assert np.allclose(rec.episode.action[:, 5], 0.5)


def test_single_storage_files_and_misnamed_or_bare_folders(tmp_path):
    bag = write_robot_bag(tmp_path / "rec", "sqlite3")
    db3 = next(bag.glob("*.db3"))
    assert read_bag(db3, config()).episode.length == FRAMES
    renamed = tmp_path / "really_sqlite.mcap"  # told apart by content, not name
    renamed.write_bytes(db3.read_bytes())
    assert read_bag(renamed, config()).episode.length == FRAMES
    (bag / "metadata.yaml").unlink()  # a folder whose metadata was lost: its one file
    assert read_bag(bag, config()).episode.length == FRAMES
    mcap = write_robot_bag(tmp_path / "m", "mcap")
    assert read_bag(next(mcap.glob("*.mcap")), config()).episode.length == FRAMES


def test_humble_sqlite_bag_without_type_definitions(tmp_path):
    """Humble's sqlite3 storage (schema 3) stores no message definitions: types come from
    the Humble typestore."""
    import sqlite3

    bag = write_robot_bag(tmp_path / "humble", "sqlite3", "png")
    db3 = next(bag.glob("*.db3"))
    with sqlite3.connect(db3) as con:
        con.execute("DROP TABLE message_definitions")
        con.execute("UPDATE schema SET schema_version = 3")
    rec = read_bag(db3, config())
    assert rec.episode.length == FRAMES and rec.state_names == STATE_JOINTS
    assert np.array_equal(rec.episode.images[3], expected_frame(3))


def test_bag_info_lists_topics_rates_and_joints(tmp_path):
    bag = write_robot_bag(tmp_path / "rec", "mcap", "jpeg")
    done = _cli("bag", "info", str(bag), "--json")
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout)
    assert info["storage"] == "rosbag2 folder (mcap)"
    topics = info["topics"]
    assert topics["/cam/image"]["type"] == "sensor_msgs/msg/CompressedImage"
    assert topics["/cam/image"]["count"] == FRAMES and topics["/cam/image"]["rate_hz"] == CAMERA_HZ
    assert topics["/joint_states"]["rate_hz"] == JOINT_HZ
    assert topics["/joint_states"]["joints"] == JOINTS
    bad = _cli("bag", "info", str(tmp_path / "absent"))
    assert bad.returncode == 2 and "no such bag" in bad.stderr


def test_errors_name_the_file_topic_and_type(tmp_path):
    junk = tmp_path / "junk.mcap"
    junk.write_bytes(b"not a bag at all" * 10)
    with pytest.raises(DatasetError, match=r"junk\.mcap: neither an MCAP nor a SQLite3"):
        read_bag(junk, config())
    bag = write_robot_bag(tmp_path / "rec", "sqlite3")
    db3 = next(bag.glob("*.db3"))
    data = db3.read_bytes()
    db3.write_bytes(data[: len(data) // 3])
    with pytest.raises(DatasetError, match="sqlite3") as err:
        read_bag(bag, config())
    assert "MCAP" not in str(err.value) and "rec" in str(err.value)
    with pytest.raises(DatasetError, match="no such bag"):
        read_bag(tmp_path / "absent", config())

    odd = write_robot_bag(tmp_path / "odd", "mcap", action_type="std_msgs/msg/String")
    with pytest.raises(DatasetError, match=r"topic '/cmd' has type std_msgs/msg/String"):
        read_bag(odd, config())
    good = write_robot_bag(tmp_path / "good", "mcap")
    with pytest.raises(DatasetError, match=r"no joint \['ankle'\]"):
        read_bag(good, config(joints=["ankle"]))
    with pytest.raises(DatasetError, match=r"50\.00 ms apart \(20\.000 Hz\), not 10 Hz"):
        read_bag(good, config(fps=10.0))
    bad_topic = config()
    bad_topic.topics.image = "/nope"
    with pytest.raises(
        DatasetError, match=r"no topic '/nope'.*/cam/image \(sensor_msgs/msg/Image\)"
    ):
        read_bag(good, bad_topic)


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "vla_wm_ros.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_imported_robot_bags_train_end_to_end(tmp_path):
    bags = [
        str(
            write_robot_bag(
                tmp_path / f"rec{i}", ("sqlite3", "mcap")[i % 2], ("raw", "jpeg")[i % 2]
            )
        )
        for i in range(3)
    ]
    cfg = tmp_path / "robot.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "topics": {"image": "/cam/image", "camera_info": "/cam/camera_info",
                           "action": "/cmd", "instruction": "/instruction", "reward": "",
                           "success": ""},
                "joints": STATE_JOINTS,
                "action_names": ["vx", "vz"],
                "robot_type": "so100",
            }
        )
    )  # fmt: skip
    data = tmp_path / "data"
    done = _cli(
        "bag", "import", *bags, "--out", str(data), "--config", str(cfg), "--fps", "20", "--json"
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["episodes"] == 3 and summary["frames"] == 3 * FRAMES
    assert summary["measured_fps"] == [20.0] * 3
    ds = EpisodeDataset(data)
    assert ds.spec.state_names == STATE_JOINTS and ds.spec.action_names == ["vx", "vz"]
    assert ds.spec.robot_type == "so100" and ds.spec.fps == 20.0
    assert ds.spec.image_shape == (64, 64, 3) and ds.spec.extra["camera_info"]["width"] == 64
    refused = _cli(
        "bag", "import", bags[0], "--out", str(tmp_path / "x"), "--config", str(cfg), "--fps", "10"
    )
    assert refused.returncode == 2 and "not 10 Hz" in refused.stderr

    run = tmp_path / "run"
    started = time.perf_counter()
    trained = _cli(
        "train",
        "--preset",
        "tiny",
        "--data",
        str(data),
        "--out",
        str(run),
        "--threads",
        "1",
        "--json",
    )
    assert trained.returncode == 0, trained.stderr[-2000:]
    stages = json.loads(trained.stdout)["stages"]
    assert set(stages) == {"temporal", "world_model", "dynamics", "actor_critic"}
    assert (run / "model").is_dir()
    print(f"tiny training on the imported bags: {time.perf_counter() - started:.1f} s")


def _dataset(root: Path, episodes: int = 2, length: int = 16) -> Path:
    """A dataset of smooth synthetic frames, as `vla-wm collect` would write (80 Hz)."""
    spec = DatasetSpec(
        fps=80.0,
        image_shape=(64, 64, 3),
        state_names=["hand_x", "hand_y", "hand_z", "gripper_opening"],
        action_names=["delta_x", "delta_y", "delta_z", "gripper_effort"],
        action_low=[-1.0] * 4,
        action_high=[1.0] * 4,
        environment_state_dim=3,
        robot_type="sawyer",
        source="metaworld",
        camera="orbit",
    )
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:64, 0:64]
    with DatasetWriter(root, spec) as writer:
        for e in range(episodes):
            images = np.stack(
                [
                    np.stack(
                        [(x * 3 + t * 5 + e) % 256, (y * 3) % 256, np.full_like(x, 60 + t)], -1
                    )
                    for t in range(length)
                ]
            ).astype(np.uint8)
            done = np.zeros(length, bool)
            done[-1] = True
            writer.add(
                Episode(
                    images=images,
                    state=rng.normal(size=(length, 4)).astype(np.float32),
                    action=rng.uniform(-1, 1, (length, 4)).astype(np.float32),
                    reward=rng.normal(size=length).astype(np.float32),
                    success=rng.random(length) > 0.7,
                    done=done,
                    terminated=np.zeros(length, bool),
                    timestamp=(np.arange(length) / 80.0).astype(np.float32),
                    instruction=f"open drawer {e}",
                    task="drawer-open",
                    environment_state=rng.normal(size=(length, 3)).astype(np.float32),
                    seed=e,
                    policy=("expert", "random")[e % 2],
                )
            )
    return root


@pytest.mark.parametrize(
    ("storage", "image_format", "clock"),
    [("mcap", "raw", "real"), ("sqlite3", "png", "sim"), ("mcap", "jpeg", "real")],
)
def test_dataset_bag_dataset_round_trip(tmp_path, storage, image_format, clock):
    source = _dataset(tmp_path / "src")
    bags = tmp_path / "bags"
    before = time.time_ns()
    done = _cli(
        "bag", "export", "--data", str(source), "--episodes", "all", "--out", str(bags),
        "--storage", storage, "--image-format", image_format, "--clock", clock, "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    folders = sorted(bags.iterdir())
    assert [f.name for f in folders] == ["episode_000000", "episode_000001"]

    # What ROS 2 tools see: metadata.yaml with offered QoS, camera_info, stamps of now.
    meta = yaml.safe_load((folders[0] / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert meta["storage_identifier"] == storage
    by_topic = {
        t["topic_metadata"]["name"]: t["topic_metadata"] for t in meta["topics_with_message_count"]
    }
    # rosbag2 v8 QoS enums: reliability 1 reliable, 2 best effort; durability 1 transient local.
    assert "reliability: 2" in by_topic["/camera/image_raw"]["offered_qos_profiles"]
    assert "reliability: 1" in by_topic["/vla_wm/action"]["offered_qos_profiles"]
    assert "durability: 1" in by_topic["/vla_wm/instruction"]["offered_qos_profiles"]
    with Reader(folders[0]) as reader:  # rosbags' reader, independent of ours
        types = {c.topic: c.msgtype for c in reader.connections}
        assert types["/camera/camera_info"] == "sensor_msgs/msg/CameraInfo"
        assert reader.start_time >= before
        stamps = []
        for conn, _, raw in reader.messages(
            [c for c in reader.connections if c.topic == "/camera/camera_info"]
        ):
            stamps.append(TS.deserialize_cdr(raw, conn.msgtype).header.stamp.sec)
    assert ("/clock" in types) == (clock == "sim")
    assert (stamps[0] == 0) if clock == "sim" else stamps[0] >= before // 1_000_000_000

    back = tmp_path / "back"
    done = _cli("bag", "import", *map(str, folders), "--out", str(back))
    assert done.returncode == 0, done.stderr
    a, b = EpisodeDataset(source), EpisodeDataset(back)
    assert b.spec.fps == a.spec.fps and b.spec.robot_type == "sawyer"
    assert b.spec.state_names == a.spec.state_names and b.spec.action_names == a.spec.action_names
    for i in range(a.num_episodes):
        x, y = a.episode(i), b.episode(i)
        for field in ("state", "action", "reward", "success", "done", "timestamp"):
            assert np.array_equal(getattr(x, field), getattr(y, field)), field
        assert (x.instruction, x.task, x.policy, x.seed) == (
            y.instruction,
            y.task,
            y.policy,
            y.seed,
        )
        if image_format == "jpeg":
            assert np.abs(x.images.astype(int) - y.images).mean() < 2.0
        else:
            assert np.array_equal(x.images, y.images)


def test_shipped_import_config_loads_and_names_the_profile_topics():
    cfg = load_yaml(BagImportConfig, ROOT / "config" / "bag_import.yaml")
    profile = yaml.safe_load((ROOT / "config" / "profile_gazebo.yaml").read_text())
    assert (cfg.topics.image, cfg.topics.joint_states) == (
        profile["image"],
        profile["joint_states"],
    )
    assert cfg.topics.action == profile["action_sink"]["topic"]
    assert cfg.joints == profile["proprio_joints"]


@pytest.mark.parametrize("encoding", ["rgb8", "bgra8", "mono8", "mono16", "yuv422"])
def test_raw_image_encodings(encoding):
    from vla_wm_ros.data.bag_messages import image_rgb

    rgb = camera_frame(2)[:4, :6]
    if encoding == "rgb8":
        data, step = rgb, 18
    elif encoding == "bgra8":
        data, step = np.concatenate([rgb[..., ::-1], np.full((4, 6, 1), 255, np.uint8)], -1), 24
    elif encoding == "mono8":
        data, step = rgb[..., 0], 6
    else:  # mono16, big-endian: the high byte is what an 8-bit frame keeps
        data, step = (rgb[..., 0].astype(np.uint16) * 256 + 7).astype(">u2"), 12
    msg = T["sensor_msgs/msg/Image"](
        header=_header(0), height=4, width=6, encoding=encoding, is_bigendian=1, step=step,
        data=np.frombuffer(np.ascontiguousarray(data).tobytes(), np.uint8),
    )  # fmt: skip
    if encoding == "yuv422":
        with pytest.raises(DatasetError, match=r"cam: image encoding 'yuv422' is not supported"):
            image_rgb(msg, "sensor_msgs/msg/Image", "cam")
        return
    out = image_rgb(msg, "sensor_msgs/msg/Image", "cam")
    want = rgb if encoding in ("rgb8", "bgra8") else np.repeat(rgb[..., :1], 3, axis=2)
    assert out.dtype == np.uint8 and np.array_equal(out, want)


def test_exported_mcap_decodes_in_foxglove_reader(tmp_path):
    """Foxglove's MCAP library (mcap + mcap-ros2-support) decodes every exported message
    with the schemas the bag carries."""
    from mcap.reader import make_reader
    from mcap_ros2.decoder import DecoderFactory

    source = _dataset(tmp_path / "src", episodes=1, length=6)
    data = EpisodeDataset(source)
    bag = export_episode(data.episode(0), tmp_path / "bag", data.spec, clock="sim")
    counts: dict[str, int] = {}
    with next(bag.glob("*.mcap")).open("rb") as f:
        reader = make_reader(f, decoder_factories=[DecoderFactory()])
        for _, channel, _, msg in reader.iter_decoded_messages():
            counts[channel.topic] = counts.get(channel.topic, 0) + 1
            if channel.topic == "/joint_states":
                assert list(msg.name) == data.spec.state_names
            if channel.topic == "/camera/image_raw":
                image = np.frombuffer(bytes(msg.data), np.uint8).reshape(64, 64, 3)
                assert np.array_equal(image, data.episode(0).images[counts[channel.topic] - 1])
    assert counts["/vla_wm/instruction"] == 1 and counts["/clock"] == 6
    assert all(counts[t] == 6 for t in ("/camera/camera_info", "/vla_wm/action", "/vla_wm/success"))
