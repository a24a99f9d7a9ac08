"""Training throughput: the frame store, the conv-stack switches, the resume guard, the bench.

- A loader on the FrameStore serves exactly the batches of the LRU loader, draw for draw.
- channels-last leaves the conv encoder/decoder outputs unchanged; bf16 autocast keeps
  them fp32 and close; the switches train (gradients reach every conv weight).
- A run resumed on a dataset that grew is refused with an error naming the dataset.
- A snapshot of a run stopped mid stage 2 holds that stage's latest weights over model/.
- `vla-wm bench train --json` on the tiny preset prints one JSON object with frames/s per
  stage and variant, and the preloaded loader spends less time on data than the LRU one.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from data_fixtures import colour_world
from safetensors.torch import load_file

from vla_wm_ros.config.loader import save_yaml
from vla_wm_ros.config.model import load_preset
from vla_wm_ros.data.frame_store import FrameStore
from vla_wm_ros.data.loader import SequenceLoader
from vla_wm_ros.data.reader import EpisodeDataset
from vla_wm_ros.models.checkpoint import load_checkpoint, read_meta
from vla_wm_ros.models.world_model import WorldModel
from vla_wm_ros.training.config import SpeedConfig, StageConfig, load_train_preset
from vla_wm_ros.training.loop import Interrupted
from vla_wm_ros.training.snapshot import snapshot
from vla_wm_ros.training.speed import apply_speed, conv_stacks
from vla_wm_ros.training.trainer import TrainError, train

pytestmark = pytest.mark.usefixtures("single_thread")
ROOT = Path(__file__).resolve().parents[1]


def _embed(names: list[str]) -> np.ndarray:
    """A fixed embedding per instruction (the loaders only need one vector per sentence)."""
    return np.stack([np.full(384, len(n) / 10, np.float32) for n in names])


@pytest.fixture(scope="module")
def colour_data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("speed") / "colour"
    colour_world(root, episodes=10, steps=24, size=16, seed=3)
    return root


def test_frame_store_serves_the_lru_loaders_batches(colour_data):
    kwargs = dict(seed=7, val_fraction=0.2, cache_episodes=2, embedder=_embed, split_seed=0)
    lazy = SequenceLoader(colour_data, 4, 8, "train", **kwargs)
    dataset = EpisodeDataset(colour_data)
    store = FrameStore(dataset, [m.index for m in lazy.episodes])
    stored = SequenceLoader(colour_data, 4, 8, "train", store=store, **kwargs)
    for _ in range(5):
        a, b = lazy.sample(), stored.sample()
        assert a.keys() == b.keys()
        for key in a:
            assert a[key].dtype == b[key].dtype and torch.equal(a[key], b[key]), key
    assert store.nbytes >= sum(m.length for m in lazy.episodes) * 16 * 16 * 3


def test_frame_store_refuses_what_it_does_not_hold(colour_data):
    dataset = EpisodeDataset(colour_data)
    store = FrameStore(dataset, [0, 1])
    with pytest.raises(KeyError, match=r"episode\(s\) \[2\]"):
        store.gather(np.array([0, 2]), np.array([0, 0]), 4)
    with pytest.raises(IndexError, match="runs past its episode"):
        store.gather(np.array([0]), np.array([22]), 4)
    with pytest.raises(Exception, match="frame store lacks episode"):
        SequenceLoader(colour_data, 2, 4, "val", val_fraction=0.2, embedder=_embed, store=store)


def test_conv_switches_keep_outputs_and_train():
    torch.manual_seed(0)
    wm = WorldModel(load_preset("tiny"), action_dim=4, proprio_dim=4, goal_dim=384)
    size = wm.cfg.encoder.image_size
    image = torch.randint(0, 256, (6, 3, size, size), dtype=torch.uint8)
    feature = torch.randn(6, wm.rssm.feature_dim)
    with torch.no_grad():
        ref_enc, ref_dec = wm.encoder.image(image.float() / 255), wm.decoder.image(feature)
    on = apply_speed(wm, SpeedConfig(channels_last=True, bf16_convs="off"))
    assert on == {"preload": True, "channels_last": True, "bf16_convs": False}
    assert len(conv_stacks(wm)) == 2
    with torch.no_grad():
        enc, dec = wm.encoder.image(image.float() / 255), wm.decoder.image(feature)
    assert torch.allclose(enc, ref_enc, atol=1e-5) and torch.allclose(dec, ref_dec, atol=1e-5)
    apply_speed(wm, SpeedConfig(channels_last=True, bf16_convs="on"))
    enc = wm.encoder.image(image.float() / 255)
    dec = wm.decoder.image(feature)
    assert enc.dtype == dec.dtype == torch.float32
    scale = ref_enc.abs().mean()
    assert (enc - ref_enc).abs().mean() < 0.05 * scale  # bf16 rounding, not a different net
    assert (enc - ref_enc).abs().mean() > 0  # autocast did run the convolutions in bf16
    (enc.square().mean() + dec.square().mean()).backward()
    for stack in conv_stacks(wm):
        for name, param in stack.named_parameters():
            assert param.grad is not None and param.grad.abs().sum() > 0, name
    apply_speed(wm, SpeedConfig(channels_last=False, bf16_convs="off"))
    with torch.no_grad():
        assert torch.allclose(wm.encoder.image(image.float() / 255), ref_enc, atol=1e-5)


def test_resume_on_a_grown_dataset_is_refused(tmp_path):
    data = tmp_path / "colour"
    colour_world(data, episodes=6, steps=20, size=16, seed=1)
    cfg = dataclasses.replace(
        load_train_preset("tiny"),
        checkpoint_every=2,
        world_model=StageConfig(steps=6, batch_size=2, seq_len=8, lr=1e-3),
    )
    out = tmp_path / "run"
    with pytest.raises(Interrupted):
        train(data, out, cfg, ["world_model"], stop_after=2, progress=False, embedder=_embed)
    colour_world(data, episodes=1, steps=20, size=16, seed=2, append=True)
    with pytest.raises(TrainError, match=r"started on 6 episodes / 120 frames .* now holds 7"):
        train(data, out, cfg, ["world_model"], resume=True, progress=False, embedder=_embed)


def test_bench_train_cli_reports_frames_per_stage(colour_data, tmp_path):
    tiny = load_train_preset("tiny")
    cfg = dataclasses.replace(
        tiny,
        val_fraction=0.2,
        loader_cache_episodes=1,
        actor_critic=dataclasses.replace(tiny.actor_critic, demo_policies=["random"]),
    )
    config = tmp_path / "train.yaml"
    save_yaml(cfg, config)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    args = [
        sys.executable, "-m", "vla_wm_ros.cli", "bench", "train", "--data", str(colour_data),
        "--config", str(config), "--stages", "world_model,dynamics,actor_critic_ac",
        "--variants", "baseline,preload,bf16", "--steps", "3", "--warmup", "1", "--json",
    ]  # fmt: skip
    done = subprocess.run(args, env=env, capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert set(result["stages"]) == {"world_model", "dynamics", "actor_critic_ac"}
    wm = {v["variant"]: v for v in result["stages"]["world_model"]["variants"]}
    assert set(wm) == {"baseline", "preload", "bf16"}
    assert set(wm["bf16"]["phase_s"]) == {"data", "forward", "backward", "optimizer"}
    for stage in result["stages"].values():
        for v in stage["variants"]:
            assert v["frames_per_s"] > 0 and v["threads"] == 1
            assert sum(v["phase_share"].values()) == pytest.approx(1.0, abs=1e-6)
    # One episode cached: the LRU loader reads and decodes on nearly every draw.
    assert wm["preload"]["phase_s"]["data"] < wm["baseline"]["phase_s"]["data"]
    assert wm["baseline"]["speedup_vs_baseline"] == pytest.approx(1.0)


def test_snapshot_of_a_run_in_progress(colour_data, tmp_path):
    """Mid stage 2: the snapshot holds the stage's latest weights over model/, loadable."""
    cfg = dataclasses.replace(
        load_train_preset("tiny"),
        val_fraction=0.2,
        checkpoint_every=3,
        world_model=StageConfig(steps=20, batch_size=2, seq_len=8, lr=1e-3),
    )
    run = tmp_path / "run"
    with pytest.raises(TrainError, match="no model/ yet"):
        snapshot(run, tmp_path / "none")
    temporal = cfg.temporal.steps
    with pytest.raises(Interrupted):
        train(colour_data, run, cfg, stop_after=temporal + 6, progress=False, embedder=_embed)
    info = snapshot(run, tmp_path / "snap")
    assert info["stage"] == "world_model" and info["step"] == 6 and info["steps"] == 20
    assert set(info["modules"]) == {"encoder", "rssm", "decoder", "reward_head", "continue_head"}
    got = load_checkpoint(tmp_path / "snap")
    before = load_checkpoint(run / "model")  # after stage 1 only
    state = load_file(str(run / "train_state" / "world_model" / "state.safetensors"))
    for key, value in got.rssm.state_dict().items():
        assert torch.equal(value, state[f"module.rssm.{key}"]), key
    old_decoder = before.decoder.state_dict()
    assert any(not torch.equal(v, old_decoder[k]) for k, v in got.decoder.state_dict().items())
    old_actor = before.actor.state_dict()  # stage 2 does not train the actor
    assert all(torch.equal(v, old_actor[k]) for k, v in got.actor.state_dict().items())
    assert read_meta(tmp_path / "snap")["snapshot"]["step"] == 6
