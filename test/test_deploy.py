"""Inference backends (deploy/): parity with eager, the engine cache, clear refusals, auto.

Every backend available on this machine is built from a tiny checkpoint and checked
against eager PyTorch on batch sizes it was not built with; TensorRT is tested where
torch-tensorrt and a CUDA GPU exist and skipped with the reason everywhere else.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import torch
import yaml
from graph_fixtures import make_tiny_checkpoint

from vla_wm_ros.deploy import BACKEND_CHOICES, PRECISION_CHOICES
from vla_wm_ros.deploy.auto import AUTO_FILE, choose_backend
from vla_wm_ros.deploy.backends import (
    BACKENDS,
    PRECISIONS,
    BackendUnavailable,
    available_backends,
    get_backend,
)
from vla_wm_ros.deploy.cache import MANIFEST
from vla_wm_ros.deploy.deployed import TOLERANCE, deploy
from vla_wm_ros.deploy.units import unit_specs
from vla_wm_ros.models.checkpoint import load_checkpoint, save_checkpoint
from vla_wm_ros.models.world_model import WorldModel

HERE = available_backends("cpu")
TENSORRT_REASON = BACKENDS["tensorrt"].unavailable("cuda", "fp16")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    path = make_tiny_checkpoint(tmp_path_factory.mktemp("deploy") / "ckpt")
    return path, load_checkpoint(path, torch.device("cpu"))


def test_names_offered_without_torch_match_the_backends():
    assert ("auto", *BACKENDS) == BACKEND_CHOICES
    assert set(PRECISION_CHOICES) == set(PRECISIONS) == set(TOLERANCE)
    assert {"eager", "torchscript", "onnxruntime"} <= set(HERE)


@pytest.mark.parametrize("backend", [b for b in BACKENDS if b in HERE])
def test_every_available_backend_matches_eager_at_new_batch_sizes(checkpoint, tmp_path, backend):
    path, wm = checkpoint
    deployed = deploy(wm, path, backend, cache_root=tmp_path)
    assert deployed.backend == backend
    rtol, atol = TOLERANCE["fp32"]
    for spec in unit_specs(wm):
        for batch in (1, 5, 300) if spec.dynamic_batch else (None,):
            inputs = spec.example(batch) if batch else spec.inputs
            with torch.no_grad():
                ref = spec.module(*inputs)
                got = deployed[spec.name](*inputs)
            for r, g in zip(
                ref if isinstance(ref, tuple) else (ref,),
                got if isinstance(got, tuple) else (got,),
                strict=True,
            ):
                assert g.shape == r.shape, (spec.name, batch)
                bound = atol + rtol * float(r.abs().max())
                assert float((g - r).abs().max()) <= bound, (spec.name, batch)


def test_planner_on_a_compiled_backend_chooses_the_eager_action(checkpoint, tmp_path):
    from vla_wm_ros.planning import build_planner, load_planner_preset
    from vla_wm_ros.planning.world_model_adapter import WorldModelPlanningModel

    path, wm = checkpoint
    onnx = deploy(wm, path, "onnxruntime", cache_root=tmp_path)
    feature = torch.randn(1, wm.rssm.feature_dim, generator=torch.Generator().manual_seed(3))
    goal = torch.nn.functional.normalize(torch.randn(wm.cfg.goal_dim), dim=0)
    actions = []
    cfg = load_planner_preset("default")
    cfg.precision = "fp32"  # backend parity in fp32 (bf16 planning: test_precision.py)
    for units in (None, onnx):
        planner = build_planner(cfg, WorldModelPlanningModel(wm, units=units))
        torch.manual_seed(0)  # the actor prior's samples draw from the global generator
        actions.append([planner.plan(feature, goal).action for _ in range(3)])  # warm starts
    np.testing.assert_allclose(actions[0], actions[1], atol=1e-3)


@pytest.mark.parametrize("backend", ["torchscript", "onnxruntime"])
def test_engine_cache_hits_on_second_load_and_rebuilds_on_a_new_checkpoint(tmp_path, backend):
    path = make_tiny_checkpoint(tmp_path / "ckpt")
    wm = load_checkpoint(path, torch.device("cpu"))
    first = deploy(wm, path, backend)
    assert not first.cache_hit and first.engine_dir.parent == path / "engines"
    artifacts = {p.name: p.stat().st_mtime_ns for p in first.engine_dir.iterdir()}
    assert MANIFEST in artifacts and len(artifacts) == 1 + len(unit_specs(wm))

    second = deploy(wm, path, backend)
    assert second.cache_hit and second.engine_dir == first.engine_dir
    assert {p.name: p.stat().st_mtime_ns for p in first.engine_dir.iterdir()} == artifacts

    torch.manual_seed(7)
    save_checkpoint(WorldModel(wm.cfg, action_dim=wm.action_dim), path)  # new weights
    changed = load_checkpoint(path, torch.device("cpu"))
    third = deploy(changed, path, backend)
    assert not third.cache_hit and third.engine_dir != first.engine_dir

    forced = deploy(changed, path, backend, force=True)
    assert not forced.cache_hit and forced.engine_dir == third.engine_dir
    assert not list((path / "engines").glob(".build-*")), "staging folders left behind"


def test_a_corrupt_engine_is_named_and_an_interrupted_build_is_not_used(checkpoint, tmp_path):
    path, wm = checkpoint
    built = deploy(wm, path, "onnxruntime", cache_root=tmp_path)
    artifact = built.engine_dir / "imagine.onnx"
    artifact.write_bytes(artifact.read_bytes()[:100])
    with pytest.raises(RuntimeError, match=r"imagine\.onnx"):
        deploy(wm, path, "onnxruntime", cache_root=tmp_path)

    (built.engine_dir / MANIFEST).unlink()  # as if the build died before its manifest
    rebuilt = deploy(wm, path, "onnxruntime", cache_root=tmp_path)
    assert not rebuilt.cache_hit and artifact.stat().st_size > 100


def test_unavailable_backends_say_why(checkpoint, tmp_path):
    path, wm = checkpoint
    reason = r"tensorrt is not available: .*(torch_tensorrt|CUDA)"
    with pytest.raises(BackendUnavailable, match=reason):
        deploy(wm, path, "tensorrt", cache_root=tmp_path)
    with pytest.raises(BackendUnavailable, match="onnxruntime runs on cpu, not cuda"):
        get_backend("onnxruntime", "cuda", "fp32")
    with pytest.raises(BackendUnavailable, match="precision fp32, not fp16"):
        get_backend("torchscript", "cpu", "fp16")
    with pytest.raises(ValueError, match="one of auto, eager"):
        get_backend("openvino", "cpu", "fp32")


def test_auto_measures_once_and_remembers(checkpoint, tmp_path):
    path, wm = checkpoint
    candidates = ["eager", "torchscript", "onnxruntime"]
    chosen = choose_backend(wm, path, "cpu", "fp32", tmp_path, candidates=candidates)
    record = yaml.safe_load((tmp_path / AUTO_FILE).read_text())
    assert chosen in candidates and record["backend"] == chosen
    assert set(record["tick_ms"]) == set(candidates)
    assert record["tick_ms"][chosen] == min(record["tick_ms"].values())
    written = (tmp_path / AUTO_FILE).stat().st_mtime_ns
    start = time.monotonic()
    again = choose_backend(wm, path, "cpu", "fp32", tmp_path, candidates=candidates)
    assert again == chosen and (tmp_path / AUTO_FILE).stat().st_mtime_ns == written
    assert time.monotonic() - start < 1.0  # read back, not measured again


def test_export_command_reports_parity_and_refuses_clearly(checkpoint, tmp_path, capsys):
    from vla_wm_ros.cli import main

    path, _ = checkpoint
    args = ["export", "--ckpt", str(path), "--out", str(tmp_path), "--json"]
    assert main([*args, "--backend", "torchscript"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["cache_hit"] is False and set(report["parity_max_abs_error"]) == {
        "image", "observe", "imagine", "reward", "value", "actor"
    }  # fmt: skip
    assert main([*args, "--backend", "torchscript"]) == 0
    assert json.loads(capsys.readouterr().out)["cache_hit"] is True
    assert main([*args, "--backend", "tensorrt"]) == 2
    assert "tensorrt is not available" in capsys.readouterr().err
    assert main([*args, "--backend", "eager"]) == 2


@pytest.mark.skipif(TENSORRT_REASON is not None, reason=f"TensorRT: {TENSORRT_REASON}")
def test_tensorrt_engine_matches_eager_and_is_cached(checkpoint, tmp_path):
    path, _ = checkpoint
    wm = load_checkpoint(path, torch.device("cuda"))
    built = deploy(wm, path, "tensorrt", "cuda", "fp16", cache_root=tmp_path)
    assert not built.cache_hit and max(built.parity.values()) <= 0.1
    assert deploy(wm, path, "tensorrt", "cuda", "fp16", cache_root=tmp_path).cache_hit
