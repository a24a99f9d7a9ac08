"""Simulator, grounding, dataset and MCAP bags on real MuJoCo, the shipped sentence
encoder and real files."""

from __future__ import annotations

import numpy as np
import pytest

from vla_wm_ros.data.bag_reader import read_bag
from vla_wm_ros.data.bag_writer import export_episode
from vla_wm_ros.data.collect import Job, collect, rollout
from vla_wm_ros.data.layout import DatasetError, DatasetExistsError
from vla_wm_ros.data.loader import SequenceLoader
from vla_wm_ros.data.reader import EpisodeDataset
from vla_wm_ros.sim.env import MetaWorldEnv
from vla_wm_ros.sim.policies import expert_action

FIELDS = ("images", "state", "action", "reward", "success", "done", "terminated")


def test_env_is_deterministic_under_a_seed():
    def run(seed: int) -> tuple[np.ndarray, np.ndarray]:
        with MetaWorldEnv("drawer-close", seed=seed, max_steps=20) as env:
            obs = env.reset(seed=seed)
            images, proprio = [obs.image], [obs.proprio]
            rng = np.random.default_rng(0)
            for _ in range(10):
                step = env.step(rng.uniform(-1, 1, env.action_dim).astype(np.float32))
                images.append(step.obs.image)
                proprio.append(step.obs.proprio)
        return np.stack(images), np.stack(proprio)

    a, b, c = run(3), run(3), run(4)
    assert a[0].shape == (11, 64, 64, 3) and a[0].dtype == np.uint8
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[0][0], c[0][0]), "another seed must place the scene elsewhere"


MT10 = (
    "reach", "push", "pick-place", "door-open", "drawer-open", "drawer-close",
    "button-press-topdown", "peg-insert-side", "window-open", "window-close",
)  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("task", MT10)
def test_scripted_expert_succeeds(task):
    successes = 0
    with MetaWorldEnv(task, render=False, max_steps=500) as env:
        for seed in range(10):
            env.reset(seed=seed)
            for _ in range(env.max_steps):
                if env.step(expert_action(env)).success:
                    successes += 1
                    break
    print(f"{task}: expert success {successes}/10")
    assert successes >= 9, f"{task}: expert solved {successes}/10 seeds"


def test_reach_expert_puts_the_grip_point_on_the_goal():
    """Meta-World's scripted reach parks the fingertips 4.5 cm under the goal (its success
    radius is 5 cm); ours steers them onto it, so what actors clone has a margin. (Seeds
    with the goal high enough for the hand to reach: on a goal ~5 cm over the table the
    hand stops at the table and the scripted expert lands the fingertips close too.)"""
    from vla_wm_ros.sim.policies import _scripted

    with MetaWorldEnv("reach", render=False, max_steps=120) as env:
        for seed in (1, 2, 3):
            ends = []
            for act in (expert_action, lambda e: _scripted("reach").get_action(e.state)):
                env.reset(seed=seed)
                for _ in range(env.max_steps):
                    env.step(np.clip(act(env), -1.0, 1.0).astype(np.float32))
                ends.append(np.linalg.norm(env.grip_point - env.state[36:39]))
            ours, scripted = ends
            assert ours < 0.015, f"seed {seed}: grip point {ours * 100:.1f} cm off the goal"
            assert scripted > 0.04, f"seed {seed}: scripted reach ends {scripted * 100:.1f} cm off"


def test_peg_expert_carries_a_peg_held_low_instead_of_putting_it_down():
    """A lifted peg hanging 2.8 cm under the hand (a learner's grasp): Meta-World's scripted
    policy says "descend onto the peg" (it puts the peg down), ours carries it on towards
    the hole (that it solves placements: test_scripted_expert_succeeds)."""
    from vla_wm_ros.sim.policies import _scripted, peg_insert_action

    with MetaWorldEnv("peg-insert-side", render=False) as env:
        env.reset(seed=3)
        state = env.state.copy()
        state[4:7] = [0.03, state[37], 0.12]  # the peg in the air, in the hole's row
        state[:3] = state[4:7] + np.array([0.0, 0.0, 0.028])
        assert _scripted("peg-insert-side").get_action(state)[2] < -0.5
        ours = peg_insert_action(state)
        assert ours[2] > 0 and ours[3] > 0  # up to the carrying height, still gripping


def test_pick_place_expert_grasps_at_the_pucks_height_and_survives_noise():
    """Hand 6 cm over the puck: Meta-World's scripted policy already closes (in the air),
    ours keeps the gripper open and descends; under action noise of std 0.5 ours still
    solves the placements (Meta-World's solved 12 of 20 in the measurement, SIMULATOR)."""
    from vla_wm_ros.sim.policies import _scripted, pick_place_action

    rng = np.random.default_rng(0)
    with MetaWorldEnv("pick-place", render=False, max_steps=300) as env:
        env.reset(seed=3)
        state = env.state.copy()
        state[:3] = state[4:7] + np.array([0.0, 0.0, 0.06])
        assert _scripted("pick-place").get_action(state)[3] > 0.5
        ours = pick_place_action(state)
        assert ours[3] < 0 and ours[2] < 0  # open, going down
        wins = 0
        for seed in range(10):
            env.reset(seed=2000 + seed)
            for _ in range(env.max_steps):
                noisy = expert_action(env) + rng.normal(0.0, 0.5, 4)
                if env.step(np.clip(noisy, -1, 1).astype(np.float32)).success:
                    wins += 1
                    break
        assert wins >= 9, f"ours solved {wins}/10 under noise"


@pytest.fixture(scope="module")
def grounder():
    from vla_wm_ros.language.grounding import Grounder

    return Grounder.from_config()


def test_grounding_generalises_to_held_out_paraphrases(grounder):
    from vla_wm_ros.language.evaluation import evaluate
    from vla_wm_ros.language.suite import load_suite

    report = evaluate(load_suite(), grounder.encoder, folds=5, seed=0)
    print(f"grounding accuracy on held-out paraphrases (5 folds): {report.accuracy:.3f}")
    assert report.accuracy >= 0.95


def _noise(size: int) -> str:
    """Seeded printable ASCII noise."""
    return "".join(map(chr, np.random.default_rng(size).integers(32, 127, size)))


UNRELATED = ["what's the weather tomorrow", "", _noise(10_240), _noise(1000), "\x00\x07 open"]


@pytest.mark.parametrize("text", UNRELATED)
def test_grounding_rejects_unrelated_text_with_a_reason(grounder, text):
    result = grounder.ground(text)
    assert not result.accepted and result.task is None
    assert result.reason


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("data") / "ds"
    jobs = [Job("button-press-topdown", n, "expert", 0, 24, 64, "orbit", False) for n in range(3)]
    jobs.append(Job("drawer-close", 0, "random", 0, 24, 64, "orbit", True))
    summary = collect(out, jobs, workers=1, progress=False)
    assert summary["episodes"] == 4 and summary["frames"] == 96
    return out


def test_episode_round_trip(dataset):
    direct = rollout(Job("button-press-topdown", 1, "expert", 0, 24, 64, "orbit", False))
    stored = EpisodeDataset(dataset).episode(1)
    for field in FIELDS:
        assert np.array_equal(getattr(direct, field), getattr(stored, field)), field
    assert stored.instruction == direct.instruction and stored.task == direct.task


def test_loader_windows_follow_the_rssm_alignment(dataset):
    loader = SequenceLoader(dataset, 3, 8, "train", val_fraction=0.25, embedder=_fake_embed)
    val = SequenceLoader(dataset, 1, 8, "val", val_fraction=0.25, embedder=_fake_embed)
    assert not {m.index for m in loader.episodes} & {m.index for m in val.episodes}
    batch = loader.sample()
    assert batch["image"].shape == (3, 8, 3, 64, 64)
    assert batch["goal"].shape == (3, 8, 4)
    first = batch["is_first"][:, 0]
    assert bool((batch["prev_action"][first, 0] == 0).all())
    assert bool((batch["prev_action"][:, 1:] == batch["action"][:, :-1]).all())


def _fake_embed(texts):
    return np.ones((len(texts), 4), dtype=np.float32)


def test_bag_export_import_gives_identical_arrays(dataset, tmp_path):
    data = EpisodeDataset(dataset)
    episode = data.episode(0)
    path = export_episode(episode, tmp_path / "ep", data.spec)
    back = read_bag(path).episode
    for field in ("images", "state", "action", "reward", "success", "timestamp"):
        assert np.array_equal(getattr(episode, field), getattr(back, field)), field
    assert (back.instruction, back.task) == (episode.instruction, episode.task)


def test_truncated_bag_is_named_in_the_error(dataset, tmp_path):
    data = EpisodeDataset(dataset)
    path = export_episode(data.episode(0), tmp_path / "ep", data.spec)
    storage = next(path.glob("*.mcap"))
    raw = storage.read_bytes()
    storage.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DatasetError, match=r"ep: cannot read this rosbag2 folder \(mcap\) bag"):
        read_bag(path)


def test_corrupt_data_file_is_named_in_the_error(dataset, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(dataset, copy)
    data_file = next(copy.glob("data/*/*.parquet"))
    data_file.write_bytes(data_file.read_bytes()[:100])
    with pytest.raises(DatasetError, match=data_file.name):
        EpisodeDataset(copy)


def test_failed_collection_leaves_no_partial_dataset(tmp_path):
    out = tmp_path / "ds"
    jobs = [Job("drawer-close", 0, "expert", 0, 5, 64, "orbit", False)]
    jobs.append(Job("no-such-task", 0, "expert", 0, 5, 64, "orbit", False))
    with pytest.raises(Exception, match="no-such-task"):
        collect(out, jobs, workers=1, progress=False)
    assert not out.exists()
    assert not list(tmp_path.glob(".ds.*"))


def test_collection_refuses_to_overwrite(dataset):
    with pytest.raises(DatasetExistsError):
        collect(dataset, [Job("reach", 0, "expert", 0, 5, 64, "orbit", False)], progress=False)
