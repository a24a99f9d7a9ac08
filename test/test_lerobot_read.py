"""LeRobot datasets that other tools wrote, read without our metadata block.

- v3.0 with one mp4 per camera (written here by PyAV: AV1 via SVT-AV1, LeRobot's default,
  and H.264), several episodes per data file and per video, state names in LeRobot's
  dict spelling, list-typed vectors, no reward/success columns: features by name, tasks
  as instructions, frames at their timestamps within codec tolerance, camera by name.
- v2.1 (a file per episode, meta/*.jsonl) with PNG frames in the rows: identical arrays.
- One of our datasets stripped of our additions and merged into one row group (as a
  merge by another tool leaves it): identical arrays through the index-range path.
- `vla-wm data import` makes a foreign video dataset a 64x64 one of ours.
- Where LeRobot (0.4.4) is installed, a dataset written by LeRobotDataset itself.
"""

from __future__ import annotations

import fractions
import json
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from vla_wm_ros.data.episode import Episode
from vla_wm_ros.data.layout import DatasetError
from vla_wm_ros.data.reader import EpisodeDataset, tasks_table
from vla_wm_ros.data.spec import DatasetSpec
from vla_wm_ros.data.writer import DatasetWriter

ROOT = Path(__file__).resolve().parents[1]
FPS = 15
LENGTHS = [10, 12, 8]
TASKS = ["pick the cube", "place the cube"]
EPISODE_TASK = [0, 0, 1]
MOTORS = ["shoulder_pan.pos", "shoulder_lift.pos", "elbow_flex.pos", "gripper.pos"]
CAMERAS = {  # key: (H, W, PyAV encoder)
    "observation.images.front": (64, 96, "libsvtav1"),
    "observation.images.wrist": (48, 48, "libx264"),
}


def frame(key: str, episode: int, t: int) -> np.ndarray:
    """Smooth frame, distinct per camera, episode and step (lossy codecs stay close)."""
    h, w, _ = CAMERAS.get(key, (64, 96, ""))
    y, x = np.mgrid[0:h, 0:w]
    shift = 40 * episode + 9 * t
    return np.stack(
        [
            (x * 2 + shift) % 256,
            (y * 3 + 50 * (key[-1] == "t")) % 256,
            np.full_like(x, 30 + shift % 200),
        ],
        axis=-1,
    ).astype(np.uint8)


def state(episode: int, length: int) -> np.ndarray:
    return (np.arange(length * 4).reshape(length, 4) * 0.01 + episode).astype(np.float32)


def action(episode: int, length: int) -> np.ndarray:
    return (np.sin(np.arange(length * 4).reshape(length, 4)) - episode).astype(np.float32)


def write_mp4(path: Path, frames: list[np.ndarray], encoder: str) -> None:
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as container:
        stream = container.add_stream(encoder, rate=FPS)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.time_base = fractions.Fraction(1, FPS)
        stream.options = {"crf": "18"}
        for i, image in enumerate(frames):
            vf = av.VideoFrame.from_ndarray(image, format="rgb24")
            vf.pts = i
            for packet in stream.encode(vf):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def _vector(rows: np.ndarray, fixed: bool) -> pa.Array:
    if fixed:
        return pa.FixedSizeListArray.from_arrays(pa.array(rows.ravel()), rows.shape[1])
    return pa.array(list(rows), pa.list_(pa.float32()))


def _frame_columns(episodes: list[int], start: int) -> dict:
    lengths = [LENGTHS[e] for e in episodes]
    n = sum(lengths)
    return {
        "observation.state": _vector(
            np.concatenate([state(e, LENGTHS[e]) for e in episodes]), False
        ),
        "action": _vector(np.concatenate([action(e, LENGTHS[e]) for e in episodes]), True),
        "timestamp": pa.array(np.concatenate([np.arange(k) / FPS for k in lengths]), pa.float32()),
        "frame_index": pa.array(np.concatenate([np.arange(k) for k in lengths]), pa.int64()),
        "episode_index": pa.array(np.repeat(episodes, lengths), pa.int64()),
        "index": pa.array(np.arange(start, start + n), pa.int64()),
        "task_index": pa.array(np.repeat([EPISODE_TASK[e] for e in episodes], lengths), pa.int64()),
    }


def _features(camera_dtype: str) -> dict:
    feats = {
        key: {"dtype": camera_dtype, "shape": [h, w, 3], "names": ["height", "width", "channels"]}
        for key, (h, w, _) in CAMERAS.items()
    }
    feats["observation.state"] = {"dtype": "float32", "shape": [4], "names": {"motors": MOTORS}}
    feats["action"] = {"dtype": "float32", "shape": [4], "names": MOTORS}
    for key, dtype in (
        ("timestamp", "float32"),
        ("frame_index", "int64"),
        ("episode_index", "int64"),
        ("index", "int64"),
        ("task_index", "int64"),
    ):
        feats[key] = {"dtype": dtype, "shape": [1], "names": None}
    return feats


def _info(version: str, camera_dtype: str, data_path: str, video_path: str) -> dict:
    return {
        "codebase_version": version,
        "robot_type": "so100_follower",
        "total_episodes": len(LENGTHS),
        "total_frames": sum(LENGTHS),
        "total_tasks": len(TASKS),
        "chunks_size": 1000,
        "fps": FPS,
        "splits": {"train": f"0:{len(LENGTHS)}"},
        "data_path": data_path,
        "video_path": video_path,
        "features": _features(camera_dtype),
    }


@pytest.fixture(scope="module")
def v3_video(tmp_path_factory) -> Path:
    """LeRobot v3.0 layout: episodes 0-1 in data file 0, episode 2 in file 1; each camera
    one mp4 holding all three episodes back to back (from_timestamp locates each)."""
    root = tmp_path_factory.mktemp("lerobot") / "v3"
    (root / "meta" / "episodes" / "chunk-000").mkdir(parents=True)
    info = _info(
        "v3.0",
        "video",
        "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet",
        "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4",
    )
    (root / "meta" / "info.json").write_text(json.dumps(info, indent=2))
    for file_index, episodes in enumerate([[0, 1], [2]]):
        start = sum(LENGTHS[: episodes[0]])
        path = root / f"data/chunk-000/file-{file_index:03d}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.table(_frame_columns(episodes, start)), path)
    for key, (_, _, encoder) in CAMERAS.items():
        frames = [frame(key, e, t) for e, n in enumerate(LENGTHS) for t in range(n)]
        write_mp4(root / f"videos/{key}/chunk-000/file-000.mp4", frames, encoder)
    pq.write_table(tasks_table(TASKS), root / "meta" / "tasks.parquet")
    rows = []
    for e, n in enumerate(LENGTHS):
        start = sum(LENGTHS[:e])
        row = {
            "episode_index": e,
            "tasks": [TASKS[EPISODE_TASK[e]]],
            "length": n,
            "data/chunk_index": 0,
            "data/file_index": 0 if e < 2 else 1,
            "dataset_from_index": start,
            "dataset_to_index": start + n,
            "meta/episodes/chunk_index": 0,
            "meta/episodes/file_index": 0,
        }
        for key in CAMERAS:
            row |= {
                f"videos/{key}/chunk_index": 0,
                f"videos/{key}/file_index": 0,
                f"videos/{key}/from_timestamp": start / FPS,
                f"videos/{key}/to_timestamp": (start + n) / FPS,
            }
        rows.append(row)
    pq.write_table(pa.Table.from_pylist(rows), root / "meta/episodes/chunk-000/file-000.parquet")
    return root


def _close(images: np.ndarray, key: str, episode: int, tolerance: float) -> None:
    want = np.stack([frame(key, episode, t) for t in range(len(images))])
    err = np.abs(images.astype(np.float64) - want).mean(axis=(1, 2, 3))
    assert err.max() < tolerance, err
    # Each frame is nearer its own source frame than the neighbouring one: right timestamp.
    if len(images) > 1:
        other = np.abs(images[1:].astype(np.float64) - want[:-1]).mean(axis=(1, 2, 3))
        assert (err[1:] < other).all()


def test_v3_video_dataset_reads_by_feature_name(v3_video):
    ds = EpisodeDataset(v3_video)
    spec = ds.spec
    assert not ds.is_ours and ds.camera.key == "observation.images.front" and ds.camera.video
    assert spec.fps == FPS and spec.image_shape == (64, 96, 3)
    assert spec.state_names == MOTORS and spec.action_names == MOTORS
    assert spec.robot_type == "so100_follower"
    assert ds.instructions == TASKS
    assert [m.instruction for m in ds.episodes] == [TASKS[i] for i in EPISODE_TASK]
    assert all(m.row_group == -1 and m.policy == "expert" for m in ds.episodes)
    for e, n in enumerate(LENGTHS):
        ep = ds.episode(e)
        assert ep.length == n and ep.task == TASKS[EPISODE_TASK[e]]
        assert np.array_equal(ep.state, state(e, n)) and np.array_equal(ep.action, action(e, n))
        assert np.allclose(ep.timestamp, np.arange(n) / FPS)
        assert not ep.reward.any() and not ep.success.any()
        assert ep.done.tolist() == [False] * (n - 1) + [True]
        _close(ep.images, "observation.images.front", e, 4.0)


def test_sequence_loader_samples_a_video_dataset(v3_video):
    from vla_wm_ros.data.loader import SequenceLoader

    def embed(texts):
        return np.array([[len(t), 1.0] for t in texts], dtype=np.float32)

    loader = SequenceLoader(v3_video, 4, 6, "train", val_fraction=0.3, embedder=embed)
    batch = loader.sample()
    assert batch["image"].shape == (4, 6, 3, 64, 96) and batch["action"].shape == (4, 6, 4)
    assert bool((batch["prev_action"][:, 1:] == batch["action"][:, :-1]).all())


def test_camera_by_name_and_errors_name_the_file(v3_video, tmp_path):
    wrist = EpisodeDataset(v3_video, camera="observation.images.wrist")
    assert wrist.spec.image_shape == (48, 48, 3)
    _close(wrist.episode(1).images, "observation.images.wrist", 1, 4.0)
    with pytest.raises(DatasetError, match=r"no camera 'top'; cameras: observation\.images\.front"):
        EpisodeDataset(v3_video, camera="top")
    copy = tmp_path / "copy"
    shutil.copytree(v3_video, copy)
    video = copy / "videos/observation.images.front/chunk-000/file-000.mp4"
    video.write_bytes(video.read_bytes()[:300])
    with pytest.raises(DatasetError, match=r"file-000\.mp4"):
        EpisodeDataset(copy).episode(2)


def test_v21_dataset_with_png_frames_reads_identically(tmp_path):
    root = tmp_path / "v21"
    info = _info(
        "v2.1",
        "image",
        "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet",
        "videos/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.mp4",
    )
    (root / "meta").mkdir(parents=True)
    (root / "meta" / "info.json").write_text(json.dumps(info))
    lines = [
        json.dumps({"episode_index": e, "tasks": [TASKS[EPISODE_TASK[e]]], "length": n})
        for e, n in enumerate(LENGTHS)
    ]
    (root / "meta" / "episodes.jsonl").write_text("\n".join(lines) + "\n")
    tasks = [json.dumps({"task_index": i, "task": t}) for i, t in enumerate(TASKS)]
    (root / "meta" / "tasks.jsonl").write_text("\n".join(tasks) + "\n")
    for e, n in enumerate(LENGTHS):
        columns = _frame_columns([e], sum(LENGTHS[:e]))
        for key in CAMERAS:
            pngs = [
                cv2.imencode(".png", frame(key, e, t)[..., ::-1])[1].tobytes() for t in range(n)
            ]
            columns[key] = pa.StructArray.from_arrays(
                [pa.array(pngs, pa.binary()), pa.nulls(n, pa.string())], names=["bytes", "path"]
            )
        path = root / f"data/chunk-000/episode_{e:06d}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.table(columns), path)
    ds = EpisodeDataset(root, camera="observation.images.wrist")
    for e, n in enumerate(LENGTHS):
        ep = ds.episode(e)
        assert np.array_equal(
            ep.images, np.stack([frame("observation.images.wrist", e, t) for t in range(n)])
        )
        assert np.array_equal(ep.state, state(e, n)) and ep.instruction == TASKS[EPISODE_TASK[e]]


def test_our_dataset_without_our_metadata_and_merged_row_groups(tmp_path):
    spec = DatasetSpec(10.0, (32, 32, 3), ["a", "b"], ["u"], [-2.0], [2.0], robot_type="x")
    rng = np.random.default_rng(1)
    episodes = []
    for e, n in enumerate((6, 9)):
        done = np.zeros(n, bool)
        done[-1] = True
        episodes.append(
            Episode(
                images=rng.integers(0, 255, (n, 32, 32, 3), dtype=np.uint8),
                state=rng.normal(size=(n, 2)).astype(np.float32),
                action=rng.normal(size=(n, 1)).astype(np.float32),
                reward=rng.normal(size=n).astype(np.float32),
                success=rng.random(n) > 0.5,
                done=done,
                terminated=np.zeros(n, bool),
                timestamp=(np.arange(n) / 10).astype(np.float32),
                instruction=f"task {e}",
                task=f"t{e}",
                policy="random",
            )
        )
    root = tmp_path / "ours"
    with DatasetWriter(root, spec) as writer:
        for ep in episodes:
            writer.add(ep)
    # As written: one row group per episode, each read without touching the other.
    assert [m.row_group for m in EpisodeDataset(root).episodes] == [0, 1]
    # What a merge by another tool leaves: no vla_wm block, LeRobot's episode columns
    # only, both episodes in one row group.
    info = json.loads((root / "meta/info.json").read_text())
    del info["vla_wm"]
    (root / "meta/info.json").write_text(json.dumps(info))
    meta = root / "meta/episodes/chunk-000/file-000.parquet"
    keep = [
        "episode_index",
        "tasks",
        "length",
        "data/chunk_index",
        "data/file_index",
        "data/row_group",
        "dataset_from_index",
        "dataset_to_index",
    ]
    pq.write_table(pq.read_table(meta).select(keep), meta)
    data = next(root.glob("data/*/*.parquet"))
    pq.write_table(pq.read_table(data), data, row_group_size=1000)
    ds = EpisodeDataset(root)
    assert not ds.is_ours and [m.row_group for m in ds.episodes] == [-1, -1]
    # Without our block the action bounds come from meta/stats.json.
    all_actions = np.concatenate([ep.action for ep in episodes])
    assert np.allclose(ds.spec.action_low, all_actions.min(0))
    assert np.allclose(ds.spec.action_high, all_actions.max(0))
    for i, ep in enumerate(episodes):
        back = ds.episode(i)
        for field in ("images", "state", "action", "reward", "success", "done", "timestamp"):
            assert np.array_equal(getattr(ep, field), getattr(back, field)), field
        assert back.instruction == ep.instruction
    with pytest.raises(DatasetError, match="written by another tool"):
        DatasetWriter(root, append=True)


def test_data_import_makes_a_foreign_video_dataset_ours(v3_video, tmp_path):
    out = tmp_path / "ours"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "vla_wm_ros.cli",
            "data",
            "import",
            str(v3_video),
            "--out",
            str(out),
            "--json",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["camera"] == "observation.images.front"
    ds = EpisodeDataset(out)
    assert ds.is_ours and ds.spec.image_shape == (64, 64, 3) and ds.num_episodes == 3
    assert ds.spec.state_names == MOTORS and ds.spec.robot_type == "so100_follower"
    ep = ds.episode(1)
    want = np.stack(
        [
            cv2.resize(
                frame("observation.images.front", 1, t)[:, 16:80],
                (64, 64),
                interpolation=cv2.INTER_AREA,
            )
            for t in range(LENGTHS[1])
        ]
    )
    assert np.abs(ep.images.astype(float) - want).mean() < 4.0
    assert np.array_equal(ep.action, action(1, LENGTHS[1]))


@pytest.fixture
def lerobot_dataset():
    return pytest.importorskip(
        "lerobot.datasets.lerobot_dataset", reason="LeRobot is not installed (optional)"
    )


def _write_with_lerobot(module, root: Path, use_videos: bool) -> list[dict]:
    """Two 5-frame episodes written by LeRobotDataset itself (its own PyAV AV1 encoder
    when `use_videos`); returns the frames as given."""
    camera = "video" if use_videos else "image"
    features = {
        "observation.image": {
            "dtype": camera,
            "shape": (32, 32, 3),
            "names": ["height", "width", "channels"],
        },
        "observation.state": {"dtype": "float32", "shape": (2,), "names": ["j0", "j1"]},
        "action": {"dtype": "float32", "shape": (2,), "names": ["a0", "a1"]},
    }
    ds = module.LeRobotDataset.create(
        "local/test", fps=10, features=features, root=root, robot_type="toy", use_videos=use_videos
    )
    written = []
    for e in range(2):
        for t in range(5):
            image = frame("observation.images.wrist", e, t)[8:40, 8:40]
            f = {
                "observation.image": np.ascontiguousarray(image),
                "observation.state": np.array([e, t], dtype=np.float32),
                "action": np.array([t * 0.5, -e], dtype=np.float32),
                "task": f"task {e}",
            }
            written.append(f)
            ds.add_frame(f)
        ds.save_episode()
    ds.finalize()
    return written


@pytest.mark.parametrize("use_videos", [False, True])
def test_dataset_written_by_lerobot_itself(lerobot_dataset, tmp_path, use_videos):
    written = _write_with_lerobot(lerobot_dataset, tmp_path / "lr", use_videos)
    ours = EpisodeDataset(tmp_path / "lr")
    assert ours.spec.state_names == ["j0", "j1"] and ours.spec.robot_type == "toy"
    assert ours.camera.video == use_videos
    for e in range(2):
        ep = ours.episode(e)
        assert ep.instruction == f"task {e}"
        rows = written[5 * e : 5 * e + 5]
        images = np.stack([r["observation.image"] for r in rows])
        if use_videos:
            assert np.abs(ep.images.astype(float) - images).mean() < 6.0
        else:
            assert np.array_equal(ep.images, images)
        assert np.array_equal(ep.action, np.stack([r["action"] for r in rows]))


def test_lerobot_loads_and_aggregates_ours(lerobot_dataset, tmp_path):
    from lerobot.datasets.aggregate import aggregate_datasets

    roots = []
    for part in range(2):
        root = tmp_path / f"ours{part}"
        spec = DatasetSpec(10.0, (32, 32, 3), ["j0", "j1"], ["a0", "a1"], [-1.0] * 2, [1.0] * 2)
        with DatasetWriter(root, spec) as writer:
            for e in range(2):
                n = 4 + e
                done = np.zeros(n, bool)
                done[-1] = True
                writer.add(
                    Episode(
                        images=np.stack(
                            [
                                frame("observation.images.wrist", e + part, t)[:32, :32]
                                for t in range(n)
                            ]
                        ),
                        state=state(e, n)[:, :2],
                        action=action(e + part, n)[:, :2],
                        reward=np.zeros(n, np.float32),
                        success=np.zeros(n, bool),
                        done=done,
                        terminated=np.zeros(n, bool),
                        timestamp=(np.arange(n) / 10).astype(np.float32),
                        instruction=f"task {part}.{e}",
                        task="t",
                    )
                )
        roots.append(root)
    loaded = lerobot_dataset.LeRobotDataset("local/ours0", root=roots[0])
    item = loaded[5]  # episode 1, frame 1
    assert np.allclose(item["action"].numpy(), action(1, 5)[1, :2])
    assert item["task"] == "task 0.1"
    merged = tmp_path / "merged"
    aggregate_datasets(
        ["local/ours0", "local/ours1"], "local/merged", roots=roots, aggr_root=merged
    )
    ds = EpisodeDataset(merged)
    assert ds.num_episodes == 4
    for part in range(2):
        for e in range(2):
            ep = ds.episode(2 * part + e)
            assert ep.instruction == f"task {part}.{e}"
            assert np.array_equal(ep.action, action(e + part, 4 + e)[:, :2])
