"""Data tools end to end on real files: the loader with the shipped sentence encoder,
multi-process seeded collection, bags with configured topics, the CLI's error paths and
`vla-wm ground --json`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from vla_wm_ros.data.alignment import step_arrays
from vla_wm_ros.data.bag_config import BagImportConfig, BagTopics
from vla_wm_ros.data.bag_reader import read_bag
from vla_wm_ros.data.bag_writer import export_episode
from vla_wm_ros.data.collect import Job, collect
from vla_wm_ros.data.layout import DatasetError
from vla_wm_ros.data.loader import SequenceLoader
from vla_wm_ros.data.reader import EpisodeDataset

STEPS = 12


def _jobs() -> list[Job]:
    jobs = [Job("button-press-topdown", n, "expert", 5, STEPS, 64, "orbit", False) for n in (0, 1)]
    jobs += [Job("drawer-close", n, "noisy-expert", 5, STEPS, 64, "orbit", True) for n in (0, 1)]
    return jobs


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("tools") / "ds"
    collect(out, _jobs(), workers=2, progress=False)
    return out


@pytest.fixture(scope="module")
def encoder():
    from vla_wm_ros.language.encoder import SentenceEncoder

    return SentenceEncoder()


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, MUJOCO_GL="egl", OMP_NUM_THREADS="1")
    return subprocess.run(
        [sys.executable, "-m", "vla_wm_ros.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_collection_is_the_same_whatever_the_number_of_workers(dataset, tmp_path):
    single = tmp_path / "single"
    collect(single, _jobs(), workers=1, progress=False)
    a, b = EpisodeDataset(dataset), EpisodeDataset(single)
    assert a.num_episodes == b.num_episodes == 4
    for i in range(a.num_episodes):
        ea, eb = a.episode(i), b.episode(i)
        assert np.array_equal(ea.images, eb.images) and np.array_equal(ea.action, eb.action)
        assert ea.instruction == eb.instruction and ea.seed == eb.seed


def test_paraphrased_episodes_carry_a_suite_instruction(dataset):
    from vla_wm_ros.language.suite import load_suite

    suite = {t.name: t for t in load_suite().tasks}
    ds = EpisodeDataset(dataset)
    for meta in ds.episodes:
        task = suite[meta.task_name]
        if meta.policy == "expert":
            assert meta.instruction == task.canonical
        else:
            assert meta.instruction in task.instructions


def test_loader_windows_are_stored_frames_with_encoder_goals(dataset, encoder):
    ds = EpisodeDataset(dataset)
    split = {"seed": 3, "val_fraction": 0.25, "cache_episodes": 1}
    loader = SequenceLoader(dataset, 6, 5, "train", **split)  # its own default encoder
    again = SequenceLoader(dataset, 6, 5, "train", embedder=encoder.embed, **split)
    val = SequenceLoader(dataset, 2, 5, "val", embedder=encoder.embed, **split)
    train_ids = {m.index for m in loader.episodes}
    assert len(train_ids) == 3 and not train_ids & {m.index for m in val.episodes}

    for _ in range(3):
        batch, twin = loader.sample(), again.sample()
        for key, value in batch.items():
            assert bool((value == twin[key]).all()), f"{key}: same seed, other batch"
        assert (
            batch["image"].shape == (6, 5, 3, 64, 64) and str(batch["image"].dtype) == "torch.uint8"
        )
        for b in range(6):
            # Find the stored episode and start the window came from, compare every field.
            match = [
                (m, s)
                for m in loader.episodes
                for s in range(m.length - 5 + 1)
                if np.array_equal(ds.episode(m.index).state[s], batch["proprio"][b, 0].numpy())
            ]
            assert match, f"window {b} is not from a training episode"
            meta, start = match[0]
            goal = encoder.embed([meta.instruction])[0]
            for key, value in step_arrays(ds.episode(meta.index)).items():
                window = value[start : start + 5]
                assert np.allclose(batch[key][b].numpy(), window, atol=1e-6), key
            assert np.allclose(batch["goal"][b].numpy(), goal[None], atol=1e-6)
            assert loader.task_names[batch["task_index"][b, 0]] == meta.task_name
        assert len(loader._cache) == 1, "the decoded-episode cache must stay bounded"


def test_bag_topics_come_from_configuration(dataset, tmp_path):
    data = EpisodeDataset(dataset)
    episode = data.episode(2)
    topics = BagTopics(
        image="/wrist/rgb", joint_states="/arm/joints", action="/cmd", instruction="/say"
    )
    path = export_episode(episode, tmp_path / "robot", data.spec, topics)
    back = read_bag(path, BagImportConfig(topics=topics)).episode
    assert np.array_equal(back.images, episode.images)
    assert np.array_equal(back.state, episode.state) and np.array_equal(back.action, episode.action)
    assert back.instruction == episode.instruction
    with pytest.raises(DatasetError, match=r"/camera/image_raw.*/wrist/rgb"):
        read_bag(path)  # default topics: the error lists what the bag holds

    bare = BagTopics("/wrist/rgb", "", "/arm/joints", "/cmd", instruction="", reward="", success="")
    path = export_episode(episode, tmp_path / "bare", data.spec, bare, storage="sqlite3")
    single = next(path.glob("*.db3"))  # the storage file alone, no metadata.yaml
    back = read_bag(single, BagImportConfig(topics=bare, instruction="press the button")).episode
    assert np.array_equal(back.action, episode.action) and not back.reward.any()
    assert back.instruction == "press the button"
    with pytest.raises(DatasetError, match=r"bare\.db3: no instruction"):
        read_bag(single, BagImportConfig(topics=bare))


def test_bag_cli_round_trip_and_bad_bag_leaves_no_dataset(dataset, tmp_path):
    bag = tmp_path / "ep"
    done = _cli("bag", "export", "--data", str(dataset), "--episodes", "1", "--out", str(bag))
    assert done.returncode == 0, done.stderr
    out = tmp_path / "imported"
    done = _cli("bag", "import", str(bag), "--out", str(out), "--task", "button-press-topdown")
    assert done.returncode == 0, done.stderr
    stored, back = EpisodeDataset(dataset).episode(1), EpisodeDataset(out).episode(0)
    for field in ("images", "state", "action", "reward", "success"):
        assert np.array_equal(getattr(stored, field), getattr(back, field)), field

    broken = tmp_path / "broken"
    shutil.copytree(bag, broken)
    storage = next(broken.glob("*.mcap"))
    storage.write_bytes(storage.read_bytes()[: storage.stat().st_size // 3])
    target = tmp_path / "never"
    done = _cli("bag", "import", str(bag), str(broken), "--out", str(target))
    assert done.returncode == 2 and "broken" in done.stderr
    assert not target.exists() and not list(tmp_path.glob(".never*"))


def test_corrupt_frame_is_named_in_the_error(dataset, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(dataset, copy)
    path = next(copy.glob("data/*/*.parquet"))
    source = pq.ParquetFile(path)
    groups = [source.read_row_group(i) for i in range(source.num_row_groups)]
    column = groups[1].column("observation.image").combine_chunks()
    frames = column.field("bytes").to_pylist()
    frames[3] = frames[3][:40]  # a PNG cut short
    images = pa.StructArray.from_arrays(
        [pa.array(frames, pa.binary()), column.field("path")], names=["bytes", "path"]
    )
    index = groups[1].schema.get_field_index("observation.image")
    groups[1] = groups[1].set_column(index, groups[1].schema.field(index), images)
    with pq.ParquetWriter(path, source.schema_arrow) as writer:
        for group in groups:
            writer.write_table(group, row_group_size=group.num_rows)
    ds = EpisodeDataset(copy)
    assert np.array_equal(ds.episode(0).images, EpisodeDataset(dataset).episode(0).images)
    with pytest.raises(DatasetError, match=rf"{path.name}: episode 1 frame 3"):
        ds.episode(1)


def test_truncated_metadata_is_named_in_the_error(dataset, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(dataset, copy)
    info = copy / "meta" / "info.json"
    info.write_text(info.read_text()[:200])
    with pytest.raises(DatasetError, match=r"info\.json: corrupt or truncated"):
        EpisodeDataset(copy)
    shutil.copy(dataset / "meta" / "info.json", info)
    shutil.rmtree(copy / "meta" / "episodes")
    with pytest.raises(DatasetError, match=r"meta/episodes: no episode metadata files"):
        EpisodeDataset(copy)


def test_collect_cli_refuses_bad_arguments(tmp_path):
    done = _cli(
        "collect", "--tasks", "fly-to-mars", "--episodes", "1", "--out", str(tmp_path / "x")
    )
    assert done.returncode == 2 and "fly-to-mars" in done.stderr
    assert not (tmp_path / "x").exists()


GROUND_CASES = [
    ("could you slide the drawer open", "drawer-open", 0),
    ("what's the weather tomorrow", None, 1),
]


@pytest.mark.parametrize(("text", "task", "rc"), GROUND_CASES)
def test_ground_cli_prints_one_json_object(text, task, rc, capsys):
    from vla_wm_ros.cli import main

    assert main(["ground", text, "--json"]) == rc
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])
    assert set(result) == {"task", "confidence", "accepted", "reason"}
    assert result["task"] == task and result["accepted"] is (task is not None)
    assert 0.0 <= result["confidence"] <= 1.0 and result["reason"]


def test_a_local_encoder_replaces_the_shipped_one_by_config(tmp_path, encoder):
    from vla_wm_ros.config.loader import ConfigError, load_yaml
    from vla_wm_ros.language.encoder import default_model_dir
    from vla_wm_ros.language.grounding import Grounder, GrounderConfig

    local = tmp_path / "my-encoder"
    local.mkdir()
    for item in default_model_dir().iterdir():
        (local / item.name).symlink_to(item)
    path = tmp_path / "grounder.yaml"
    path.write_text(f"encoder:\n  model_dir: {local}\nmin_similarity: 0.55\n")
    config = load_yaml(GrounderConfig, path)
    grounder = Grounder.from_config(config)
    assert grounder.encoder.model_dir == local
    result = grounder.ground("please open the drawer")
    assert result.accepted and result.task == "drawer-open"
    reference = encoder.embed(["please open the drawer"])
    assert np.allclose(grounder.embed(["please open the drawer"]), reference, atol=1e-6)

    path.write_text(f"encoder:\n  model_dir: {tmp_path / 'nowhere'}\n")
    with pytest.raises(ConfigError, match="nowhere"):
        Grounder.from_config(load_yaml(GrounderConfig, path))


def test_merge_keeps_every_episode_and_refuses_another_rendering(dataset, tmp_path):
    extra = tmp_path / "random"
    collect(extra, [Job("reach", 0, "random", 7, STEPS, 64, "orbit", False)], 1, progress=False)
    near = tmp_path / "near"
    collect(near, [Job("reach", 0, "random", 7, STEPS, 64, "orbit-near", False)], 1, progress=False)
    out = tmp_path / "merged"
    done = _cli("data", "merge", str(dataset), str(extra), "--out", str(out), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["policies"] == {"expert": 2, "noisy-expert": 2, "random": 1}
    merged, first = EpisodeDataset(out), EpisodeDataset(dataset)
    assert merged.num_episodes == first.num_episodes + 1
    for i, source, j in [(0, first, 0), (3, first, 3), (4, EpisodeDataset(extra), 0)]:
        got, want = merged.episode(i), source.episode(j)
        assert (got.task, got.policy, got.seed, got.instruction) == (
            want.task, want.policy, want.seed, want.instruction,
        )  # fmt: skip
        for field in ("images", "state", "action", "reward", "success"):
            assert np.array_equal(getattr(got, field), getattr(want, field)), field

    refused = tmp_path / "refused"
    done = _cli("data", "merge", str(dataset), str(near), "--out", str(refused))
    assert done.returncode == 2 and "orbit-near" in done.stderr and str(near) in done.stderr
    assert not refused.exists()

    # A subset: one task left out of the first source, the second kept whole.
    subset = tmp_path / "subset"
    done = _cli(
        "data", "merge", str(dataset), str(extra), "--exclude-tasks", "drawer-close",
        "--out", str(subset), "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["sources"] == {str(dataset): 2, str(extra): 1}
    assert summary["frames"] == sum(m.length for m in EpisodeDataset(subset).episodes)
    tasks = [m.task_name for m in EpisodeDataset(subset).episodes]
    assert tasks == ["button-press-topdown", "button-press-topdown", "reach"]
    only = tmp_path / "only"
    done = _cli("data", "merge", str(dataset), "--tasks", "drawer-close", "--out", str(only))
    assert done.returncode == 0, done.stderr
    assert {m.task_name for m in EpisodeDataset(only).episodes} == {"drawer-close"}
    done = _cli("data", "merge", str(dataset), "--tasks", "push", "--out", str(tmp_path / "none"))
    assert done.returncode == 2 and "no episode" in done.stderr
