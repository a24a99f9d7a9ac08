"""The training pipeline on data the tests make themselves.

- Real Meta-World episodes (two tasks, expert + random, 40 steps) through every stage of
  the `tiny` preset: files, curves, a loadable checkpoint, falling losses.
- A run killed with SIGKILL mid-stage and resumed gives the same loss curve and weights
  as the same run uninterrupted.
- World-model evaluation of a fixed checkpoint is reproducible, in-process and by CLI.
- On a small action-driven world written with the DatasetWriter (the frame's colour is
  a state that the action moves), the trained tiny world model beats copy-last and
  mean-frame baselines at k = 1 and k = 10.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from data_fixtures import colour_world
from safetensors.torch import load_file

from vla_wm_ros.config.loader import ConfigError
from vla_wm_ros.data.layout import DatasetError
from vla_wm_ros.evaluation.world_model import evaluate_world_model
from vla_wm_ros.models.checkpoint import load_checkpoint
from vla_wm_ros.models.encoder import image_to_float
from vla_wm_ros.training.config import STAGES, StageConfig, load_train_preset
from vla_wm_ros.training.loop import read_curve
from vla_wm_ros.training.trainer import MODEL_DIR, TrainError, train

pytestmark = pytest.mark.usefixtures("single_thread")
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny_run(sim_data, embedder, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("run") / "tiny"
    torch.set_num_threads(1)
    train(sim_data, out, load_train_preset("tiny"), progress=False, embedder=embedder)
    return out


def test_tiny_pipeline_end_to_end(tiny_run, sim_data, embedder):
    run = (tiny_run / "run.yaml").read_text()
    for stage in STAGES:
        assert f"{stage}:" in run
        assert read_curve(tiny_run, stage), f"no curve for {stage}"
    wm = load_checkpoint(tiny_run / MODEL_DIR)
    assert wm.cfg.goal_dim == 384 and wm.cfg.encoder.image_size == 64
    # The checkpoint records the encoder that defined its goal space.
    recorded = yaml.safe_load((tiny_run / MODEL_DIR / "meta.yaml").read_text())["goal_encoder"]
    assert recorded == {"name": recorded["name"], "id": embedder.__self__.id, "dim": 384}
    # ... and how its images were rendered (Meta-World's own goal marker: null).
    seen = yaml.safe_load((tiny_run / MODEL_DIR / "meta.yaml").read_text())["observation"]
    assert seen == {"source": "metaworld", "camera": "orbit", "image_size": 64,
                    "goal_marker_radius": None}  # fmt: skip
    for kind in ("deterministic", "stochastic", "flow"):
        assert load_file(str(tiny_run / MODEL_DIR / f"dynamics_{kind}.safetensors"))
    assert any((tiny_run / "tensorboard").iterdir())
    curve = read_curve(tiny_run, "world_model")
    first, last = curve[0]["image"], curve[-1]["image"]
    print(f"\nworld_model image loss: first {first:.1f} -> last {last:.1f}")
    assert last < first
    bc = [row["bc_nll"] for row in read_curve(tiny_run, "actor_critic")]
    assert np.isfinite(bc).all()
    with pytest.raises(TrainError, match="--resume"):
        train(sim_data, tiny_run, load_train_preset("tiny"), progress=False, embedder=embedder)


def test_resuming_with_another_goal_encoder_is_refused(tiny_run, sim_data, embedder, tmp_path):
    import shutil

    other = tmp_path / "run"
    shutil.copytree(tiny_run, other)
    run = yaml.safe_load((other / "run.yaml").read_text())
    run["goal_encoder"] = {"name": "another-encoder", "id": "0123456789abcdef", "dim": 384}
    (other / "run.yaml").write_text(yaml.safe_dump(run))
    with pytest.raises(TrainError, match=r"0123456789abcdef.*would mix two goal spaces"):
        train(sim_data, other, load_train_preset("tiny"), resume=True, embedder=embedder)


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "vla_wm_ros.cli", *args]


def test_killed_run_resumes_on_the_same_curve(tiny_run, sim_data, tmp_path):
    """SIGKILL while the world-model stage runs, resume: same curves and weights."""
    out = tmp_path / "killed"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    args = ("train", "--preset", "tiny", "--data", str(sim_data), "--out", str(out))
    proc = subprocess.Popen(
        _cli(*args, "--threads", "1"), env=env, stderr=subprocess.DEVNULL, cwd=ROOT
    )
    state = out / "train_state" / "world_model" / "state.safetensors"
    deadline = time.monotonic() + 300  # process start-up alone is slow on a loaded machine
    while not state.is_file() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert state.is_file(), "the run never reached its first world-model checkpoint"
    assert "actor_critic" not in (out / "run.yaml").read_text()
    resumed = subprocess.run(
        _cli(*args, "--threads", "1", "--resume"), env=env, capture_output=True, text=True, cwd=ROOT
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "resuming at step" in resumed.stderr
    for stage in STAGES:
        a, b = read_curve(tiny_run, stage), read_curve(out, stage)
        assert [r["step"] for r in a] == [r["step"] for r in b], stage
        for ra, rb in zip(a, b, strict=True):
            for key in ra:
                assert rb[key] == pytest.approx(ra[key], rel=1e-5, abs=1e-6), (stage, key)
    ref = load_file(str(tiny_run / MODEL_DIR / "weights.safetensors"))
    got = load_file(str(out / MODEL_DIR / "weights.safetensors"))
    worst = max(float((ref[k].double() - got[k].double()).abs().max()) for k in ref)
    print(f"\nresumed vs uninterrupted: max weight difference {worst:.2e}")
    assert worst < 1e-5


def _flat(tree: dict, prefix: str = "") -> dict[str, float]:
    out: dict[str, float] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}/"))
        else:
            out[prefix + key] = float(value)
    return out


def test_world_model_eval_is_reproducible(tiny_run, sim_data, embedder, tmp_path):
    wm = load_checkpoint(tiny_run / MODEL_DIR)
    kwargs = dict(batches=2, batch_size=2, context=5, horizons=(1, 5, 10), val_fraction=0.2)
    first = evaluate_world_model(wm, sim_data, embedder=embedder, **kwargs)
    second = evaluate_world_model(wm, sim_data, embedder=embedder, **kwargs)
    assert first == second
    assert set(first["open_loop"]) == {"1", "5", "10"}
    held_out = yaml.safe_load((tiny_run / "run.yaml").read_text())["split"]["val_episodes"]
    assert first["val_episode_indices"] == held_out
    assert first["reward"]["steps"] > 0 and first["open_loop"]["5"]["reward_mse"]["model"] >= 0
    subset = evaluate_world_model(wm, sim_data, embedder=embedder, episodes=held_out[:1], **kwargs)
    assert subset["val_episode_indices"] == held_out[:1]
    trained_on = min(set(range(6)) - set(held_out))
    with pytest.raises(DatasetError, match=rf"episode\(s\) \[{trained_on}\] are not in the val"):
        evaluate_world_model(wm, sim_data, embedder=embedder, episodes=[trained_on], **kwargs)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cli = subprocess.run(
        _cli(
            "eval", "world-model", "--ckpt", str(tiny_run / MODEL_DIR), "--data", str(sim_data),
            "--batches", "2", "--batch-size", "2", "--context", "5", "--horizons", "1,5,10",
            "--val-fraction", "0.2", "--plots", str(tmp_path), "--threads", "1", "--json",
        ),
        env=env, capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    assert cli.returncode == 0, cli.stderr[-2000:]
    result = json.loads(cli.stdout)
    # Another process (same thread count): equal up to float summation order.
    for key in ("open_loop", "reconstruction"):
        assert _flat(result[key]) == pytest.approx(_flat(first[key]), rel=1e-6), key
    for name in ("open_loop_error.png", "real_vs_imagined.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"


def test_trained_world_model_beats_copy_last_and_mean(embedder, tmp_path):
    data = tmp_path / "colour"
    colour_world(data, episodes=24, steps=40, size=16, seed=0)
    cfg = dataclasses.replace(
        load_train_preset("tiny"),
        val_fraction=0.25,
        checkpoint_every=1000,
        world_model=StageConfig(steps=300, batch_size=8, seq_len=16, lr=3e-3),
    )
    train(data, tmp_path / "run", cfg, ["world_model"], progress=False, embedder=embedder)
    wm = load_checkpoint(tmp_path / "run" / MODEL_DIR)
    result = evaluate_world_model(
        wm, data, batches=4, batch_size=8, context=8, horizons=(1, 10), val_fraction=0.25,
        embedder=embedder,
    )  # fmt: skip
    print()
    for k in ("1", "10"):
        for space in ("obs_mse", "latent_mse"):
            row = result["open_loop"][k][space]
            print(
                f"k={k:<2} {space:<10} model {row['model']:.5f}  copy-last {row['copy_last']:.5f}"
                f"  mean {row['mean']:.5f}"
            )
    for k in ("1", "10"):
        for space in ("obs_mse", "latent_mse"):
            row = result["open_loop"][k][space]
            assert row["model"] < row["copy_last"] and row["model"] < row["mean"], (k, space)
    # The reward of arriving depends on the colour reached: the head must beat the mean
    # reward when filtering, and in imagination a step ahead.
    reward = result["reward"]
    print(f"reward head: MSE {reward['mse']:.4f}, mean baseline {reward['baseline_mean_mse']:.4f}")
    assert reward["mse"] < 0.8 * reward["baseline_mean_mse"]
    assert (
        result["open_loop"]["1"]["reward_mse"]["model"]
        < result["open_loop"]["1"]["reward_mse"]["mean"]
    )


def test_actor_rollout_in_the_simulator_is_deterministic(tiny_run, embedder):
    from vla_wm_ros.evaluation.actor_rollout import evaluate_actor

    wm = load_checkpoint(tiny_run / MODEL_DIR)
    runs = [
        evaluate_actor(wm, ["reach"], 2, embedder, max_steps=12, progress=False) for _ in range(2)
    ]
    row = runs[0]["per_task"]["reach"]
    print(f"\ntiny actor on reach, 2 episodes of 12 steps: {row}")
    assert row["episodes"] == 2 and 0.0 <= row["success_rate"] <= 1.0
    assert row["mean_return"] > 0.0  # Meta-World rewards are positive shaping terms
    assert runs[0]["per_task"] == runs[1]["per_task"]
    assert min(runs[0]["seeds"]) >= 2**31  # never a placement the collector used


def test_average_cli_means_the_actors_and_refuses_different_world_models(
    tiny_run, tmp_path, capsys
):
    from vla_wm_ros.cli import main
    from vla_wm_ros.models.checkpoint import (
        load_checkpoint,
        read_meta,
        save_checkpoint,
        verify_manifest,
    )

    start = tiny_run / MODEL_DIR
    dirs = [tmp_path / "a", tmp_path / "b"]
    for shift, where in zip((1.0, 3.0), dirs, strict=True):
        wm = load_checkpoint(start)
        with torch.no_grad():
            for p in wm.actor.parameters():
                p.add_(shift)
        save_checkpoint(wm, where)
    (dirs[-1] / "dynamics_flow.safetensors").write_bytes(b"the last round's stage-3 model")
    assert main(["average", *map(str, dirs), "--out", str(tmp_path / "mean")]) == 0
    manifest = yaml.safe_load((tmp_path / "mean" / "manifest.yaml").read_text())["sha256"]
    assert "dynamics_flow.safetensors" in manifest and verify_manifest(tmp_path / "mean")
    mean, base = load_checkpoint(tmp_path / "mean"), load_checkpoint(start)
    for k, v in mean.actor.state_dict().items():
        torch.testing.assert_close(v, base.actor.state_dict()[k] + 2.0)
    assert all(torch.equal(v, base.rssm.state_dict()[k]) for k, v in mean.rssm.state_dict().items())
    assert read_meta(tmp_path / "mean")["actor_average_of"] == list(map(str, dirs))

    other = load_checkpoint(start)
    with torch.no_grad():
        next(iter(other.rssm.parameters())).add_(0.1)
    save_checkpoint(other, tmp_path / "other")
    assert (
        main(["average", str(dirs[0]), str(tmp_path / "other"), "--out", str(tmp_path / "x")]) == 2
    )
    assert "differs from the last outside the actor" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
    assert main(["average", str(dirs[0]), "--out", str(tmp_path / "y")]) == 2


def test_average_takes_the_offline_value_of_a_checkpoint_of_the_same_world_model(
    tiny_run, tmp_path, capsys
):
    import dataclasses

    from vla_wm_ros.cli import main
    from vla_wm_ros.models.checkpoint import load_checkpoint, save_checkpoint
    from vla_wm_ros.models.world_model import WorldModel

    start = tiny_run / MODEL_DIR
    base = load_checkpoint(start)
    value_cfg = dataclasses.replace(base.cfg.value, heads=2, hidden=16)
    donor = WorldModel(dataclasses.replace(base.cfg, value=value_cfg))
    donor.load_state_dict(base.state_dict(), strict=False)  # same world model, new value
    with torch.no_grad():
        for p in donor.actor.parameters():
            p.add_(5.0)  # the donor's actor is not taken
    save_checkpoint(donor, tmp_path / "value")
    rounds = [tmp_path / "r1", tmp_path / "r2"]
    for where in rounds:
        save_checkpoint(base, where)
    args = ["average", *map(str, rounds), "--value-from", str(tmp_path / "value")]
    assert main([*args, "--out", str(tmp_path / "mean")]) == 0
    mean = load_checkpoint(tmp_path / "mean")
    assert mean.cfg.value.heads == 2 and mean.offline_value is not None
    for k, v in mean.offline_value.state_dict().items():
        assert torch.equal(v, donor.offline_value.state_dict()[k])
    for k, v in mean.actor.state_dict().items():
        assert torch.equal(v, base.actor.state_dict()[k])

    other = WorldModel(dataclasses.replace(base.cfg, value=value_cfg))  # another world model
    save_checkpoint(other, tmp_path / "other")
    args[-1] = str(tmp_path / "other")
    assert main([*args, "--out", str(tmp_path / "x")]) == 2
    assert "another world model" in capsys.readouterr().err
    assert main(["average", *map(str, rounds), "--value-from", str(start), "--out", "y"]) == 2
    assert "has no offline value" in capsys.readouterr().err


def test_the_state_loss_teaches_the_latent_where_things_are(sim_data, embedder, tmp_path):
    """environment_state_loss > 0: a training-only head decodes the simulator's state from
    the latent; after training it tells the hand's position (the part of the state a tiny
    model learns in a few hundred steps) far better than the mean does, the checkpoint
    keeps the data's scale, and the planner's reduced copy leaves the head out. The
    view-state head (view_state_loss > 0) does the same from one frame's image features,
    with no history and no proprioception. Data without the state is refused by name."""
    from vla_wm_ros.data.loader import SequenceLoader
    from vla_wm_ros.data.reader import EpisodeDataset
    from vla_wm_ros.planning.precision import planning_copy

    cfg = dataclasses.replace(
        load_train_preset("tiny"),
        environment_state_loss=1.0,
        view_state_loss=1.0,
        world_model=StageConfig(steps=200, batch_size=8, seq_len=8, lr=3e-3),
    )
    out = tmp_path / "run"
    train(sim_data, out, cfg, ["world_model"], progress=False, embedder=embedder)
    assert all(row["state"] > 0 and row["view_state"] > 0 for row in read_curve(out, "world_model"))
    wm = load_checkpoint(out / MODEL_DIR).eval()
    moments = EpisodeDataset(sim_data).moments()["observation.environment_state"]
    assert wm.cfg.loss.state == 1.0 and wm.cfg.loss.view_state == 1.0
    assert wm.cfg.environment_state_dim == 39
    for head in (wm.state_head, wm.view_state_head):
        np.testing.assert_allclose(head.mean.numpy(), moments.mean, rtol=1e-5, atol=1e-6)
    loader = SequenceLoader(sim_data, 16, 16, "train", seed=1, embedder=embedder)
    batch = loader.sample()
    with torch.no_grad():
        feature = wm.rssm.feature(wm.observe(batch, sample=False).posterior)
        hand = wm.state_head(feature)[..., :3]
        image = batch["image"].flatten(0, 1)  # frames one by one: no history to lean on
        seen = wm.encoder.image(image_to_float(image))
        hand_in_view = wm.view_state_head(seen)[..., :3].reshape(hand.shape)
    target = batch["environment_state"][..., :3]
    spread = float((target - target.mean((0, 1))).pow(2).mean())
    for guess in (hand, hand_in_view):
        error = float((guess - target).pow(2).mean())
        assert error < 0.25 * spread, (error, spread)
    reduced = planning_copy(wm, torch.bfloat16)
    assert reduced.state_head is None and reduced.view_state_head is None

    beyond = dataclasses.replace(cfg, state_dims=[0, 39])
    with pytest.raises(TrainError, match=r"state_dims \[39\]: the environment state has 39"):
        train(sim_data, tmp_path / "x", beyond, ["world_model"], progress=False, embedder=embedder)

    no_state = tmp_path / "colour"
    colour_world(no_state, episodes=2, steps=10, size=16, seed=0)
    with pytest.raises(TrainError, match=r"colour: has no observation\.environment_state"):
        train(
            no_state, tmp_path / "refused", cfg, ["world_model"], progress=False, embedder=embedder
        )


def test_state_loss_counts_the_chosen_dimensions_in_the_stated_units():
    """set_loss_units: by default every dimension counts in data deviations (the plain mean
    squared error); with `dims` only those count, and with a resolution a dimension spread
    wider than it counts its error in units of the resolution (a 3 cm miss on a 10 cm
    spread costs 9, not 0.09), while one spread narrower, or constant, keeps weight 1."""
    from vla_wm_ros.models.heads import StateHead

    torch.manual_seed(0)
    head = StateHead(8, 4, 16, 1, "silu", True)
    data_std = np.array([0.1, 0.005, 0.0, 0.1])
    head.set_scale(np.zeros(4), data_std)
    feature = torch.randn(5, 8)
    with torch.no_grad():
        guess = head(feature)
    state = guess.clone()
    state[:, 0] += 0.03  # a 3 cm miss on the wide dimension, nothing elsewhere
    plain = head.loss(feature, state)
    torch.testing.assert_close(plain, torch.tensor((0.03 / 0.1) ** 2 / 4))
    head.set_loss_units(data_std, [0, 1, 2], 0.01)
    torch.testing.assert_close(head.loss_weight, torch.tensor([100.0, 1.0, 1.0, 0.0]))
    torch.testing.assert_close(head.loss(feature, state), torch.tensor(9.0 / 3))
    state[:, 3] += 1.0  # not counted
    torch.testing.assert_close(head.loss(feature, state), torch.tensor(9.0 / 3))
    assert "loss_weight" not in head.state_dict()  # a training setting, not saved


def test_image_shift_moves_each_sequence_as_one():
    """image_shift: every frame of a sequence moves by the same whole-pixel offset within
    the bound (a lit pixel lands at one place across the sequence), sequences draw their
    own offsets, the dtype stays uint8 and the border repeats; 0 leaves the images alone;
    a negative bound is refused."""
    from vla_wm_ros.training.augment import shift_sequences

    image = torch.zeros(64, 5, 3, 12, 12, dtype=torch.uint8)
    image[..., 6, 6] = 200
    image[..., :, 0] = 7  # left column: repeated into the border when moved right
    torch.manual_seed(0)
    moved = shift_sequences(image, 2)
    assert moved.shape == image.shape and moved.dtype == torch.uint8
    offsets = set()
    for seq in moved:
        lit = {tuple((frame[0] == 200).nonzero()[0].tolist()) for frame in seq}
        assert len(lit) == 1
        (y, x) = lit.pop()
        assert abs(y - 6) <= 2 and abs(x - 6) <= 2
        offsets.add((y, x))
        if x > 6:  # moved right by x - 6: the new left columns repeat the old first one
            assert bool((seq[..., : x - 6 + 1] == 7).all())
    assert len(offsets) > 10
    assert torch.equal(shift_sequences(image, 0), image)
    with pytest.raises(ConfigError, match="image_shift must be >= 0"):
        dataclasses.replace(load_train_preset("tiny"), image_shift=-1).validate()


def test_a_run_can_start_from_a_checkpoint(sim_data, embedder, tmp_path):
    """init_from: the new run starts with the checkpoint's architecture and weights (the
    encoder of a run that trained only stage 3 is the source's, bit for bit), adds the
    training-only heads its config asks for, records where it started, and refuses a
    checkpoint whose sizes disagree with the data, naming it."""
    from vla_wm_ros.models.checkpoint import read_meta, save_checkpoint
    from vla_wm_ros.models.world_model import WorldModel
    from vla_wm_ros.training.init_model import InitError

    small = StageConfig(steps=3, batch_size=4, seq_len=8)
    cfg = dataclasses.replace(load_train_preset("tiny"), world_model=small, dynamics=small)
    train(sim_data, tmp_path / "a", cfg, ["world_model"], progress=False, embedder=embedder)
    source_dir = tmp_path / "a" / MODEL_DIR
    source = load_checkpoint(source_dir)
    started = dataclasses.replace(cfg, init_from=str(source_dir), view_state_loss=1.0)
    train(sim_data, tmp_path / "b", started, ["dynamics"], progress=False, embedder=embedder)
    wm = load_checkpoint(tmp_path / "b" / MODEL_DIR)
    for name, value in source.encoder.state_dict().items():
        assert torch.equal(value, wm.encoder.state_dict()[name]), name
    assert wm.view_state_head is not None and wm.cfg.loss.view_state == 1.0
    assert source.view_state_head is None
    assert read_meta(tmp_path / "b" / MODEL_DIR)["started_from"] == str(source_dir)

    save_checkpoint(WorldModel(dataclasses.replace(source.cfg, action_dim=3)), tmp_path / "odd")
    odd = dataclasses.replace(cfg, init_from=str(tmp_path / "odd"))
    with pytest.raises(InitError, match=r"odd: action_dim is 3, the data gives 4"):
        train(sim_data, tmp_path / "c", odd, ["dynamics"], progress=False, embedder=embedder)
