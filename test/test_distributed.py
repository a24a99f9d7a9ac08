"""Data-parallel training under torchrun: 2 processes on this machine, tiny preset.

One short 2-process run of the world-model stage, stopped half way and resumed, against
one process at the same global batch on the same data: rank 0 alone writes the run
files, the curve continues across the resume, and the loss curve stays within the
tolerance of the one-process curve (mean of the last half within 30 %: the two runs
draw different windows, and 40 tiny steps are noisy). A 2-process `vla-wm dagger
--record` runs each rollout once, trains on cached features and records every rollout
once, from rank 0, in job order.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from data_fixtures import meta_world_episodes

from vla_wm_ros.training import distributed
from vla_wm_ros.training.config import load_train_preset
from vla_wm_ros.training.loop import read_curve
from vla_wm_ros.training.trainer import MODEL_DIR, train

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def sim_data(tmp_path_factory) -> Path:
    """Six real Meta-World episodes: 2 tasks x (2 expert + 1 random), 30 steps, 64x64."""
    return meta_world_episodes(tmp_path_factory.mktemp("sim") / "data", 30)


def torchrun(*args: str) -> subprocess.CompletedProcess:
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node",
        "2",
        "-m",
        "vla_wm_ros.cli",
        *args,
    ]
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    return subprocess.run(command, env=env, capture_output=True, text=True, cwd=ROOT, timeout=600)


def test_helpers_are_no_ops_in_one_process():
    assert not distributed.active()
    assert (distributed.rank(), distributed.world_size()) == (0, 1)
    assert distributed.per_rank_batch(5, "x") == 5
    assert distributed.shard([1, 2, 3], "x") == [1, 2, 3]
    assert distributed.mean_terms({"a": 1.5}) == {"a": 1.5}
    assert distributed.backend_for("cpu") == "gloo"
    assert distributed.backend_for("cuda:0") == "nccl"


def test_two_processes_train_resume_and_follow_the_one_process_curve(sim_data, tmp_path):
    cfg = load_train_preset("tiny")
    torch.set_num_threads(1)
    single = tmp_path / "single"
    train(sim_data, single, cfg, ["world_model"], progress=False)

    out = tmp_path / "ddp"
    args = ("train", "--preset", "tiny", "--data", str(sim_data), "--out", str(out))
    args += ("--stages", "world_model", "--threads", "2")
    first = torchrun(*args, "--stop-after", "20")
    # Stopped on purpose (each process exits 3, which torchrun reports as a failure).
    assert first.returncode != 0
    assert first.stderr.count("stopped after step 20 of 40") == 2, first.stderr[-3000:]
    state = out / "train_state" / "world_model"
    assert (state / "state.safetensors").is_file() and (state / "rank1").is_dir()
    resumed = torchrun(*args, "--resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert resumed.stderr.count("resuming at step 20") == 1  # rank 0 alone reports

    assert (out / MODEL_DIR / "weights.safetensors").is_file()
    ddp, one = read_curve(out, "world_model"), read_curve(single, "world_model")
    assert [r["step"] for r in ddp] == [r["step"] for r in one]  # one row per log point
    half = len(one) // 2
    ddp_tail = np.mean([r["total"] for r in ddp[half:]])
    one_tail = np.mean([r["total"] for r in one[half:]])
    assert abs(ddp_tail - one_tail) <= 0.3 * abs(one_tail), (ddp_tail, one_tail)
    assert ddp[-1]["total"] < ddp[0]["total"]  # it learned


def test_two_process_dagger_records_every_rollout_once_from_rank_0(sim_data, tmp_path):
    from vla_wm_ros.data.reader import EpisodeDataset

    torch.set_num_threads(1)
    train(sim_data, tmp_path / "tiny", load_train_preset("tiny"), progress=False)
    out, record = tmp_path / "dagger", tmp_path / "rollouts"
    args = ("dagger", "--ckpt", str(tmp_path / "tiny" / MODEL_DIR), "--data", str(sim_data))
    args += ("--out", str(out), "--tasks", "reach,drawer-close", "--rounds", "2")
    args += ("--episodes", "1", "--max-steps", "20", "--bc-steps", "4", "--threads", "2")
    done = torchrun(*args, "--record", str(record), "--json")
    assert done.returncode == 0, done.stderr[-3000:]
    assert len(done.stdout.strip().splitlines()) == 1  # rank 0 alone prints its JSON
    assert (out / "weights.safetensors").is_file()
    data = EpisodeDataset(record)
    assert [m.task_name for m in data.episodes] == ["reach", "drawer-close"] * 2
    assert len({m.seed for m in data.episodes}) == 4 and {m.policy for m in data.episodes} == {
        "dagger"
    }


def test_a_global_batch_that_does_not_divide_is_refused(monkeypatch):
    monkeypatch.setattr(distributed, "world_size", lambda: 2)
    assert distributed.per_rank_batch(4, "stage 1") == 2
    with pytest.raises(ValueError, match="stage 1: batch_size 3 does not divide over 2"):
        distributed.per_rank_batch(3, "stage 1")
