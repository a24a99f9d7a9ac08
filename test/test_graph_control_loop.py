"""The control-loop benchmark's measurement through a real graph (tiny checkpoint).

Frames go in on the camera topic, the planner runs with `trigger: belief` on a compiled
backend, and every frame must come back as a command, timed per stage.
"""

from __future__ import annotations

import numpy as np
from graph_fixtures import make_tiny_checkpoint

from vla_wm_ros.bench.control_loop import run_backend


def test_every_frame_is_answered_and_timed_per_stage(tmp_path):
    path = make_tiny_checkpoint(tmp_path / "ckpt")
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (64, 64, 3), dtype=np.uint8) for _ in range(4)]
    proprio = [rng.uniform(-1, 1, 4).astype(np.float32) for _ in range(4)]
    report = run_backend(
        "torchscript", frames, proprio, ticks=12, warmup=4, rate_hz=5.0,
        instruction="press the button", model_dir=str(path),
    )  # fmt: skip
    assert report["backend"] == "torchscript" and report["engine_cache_hit"] is False
    # The belief trigger answers each frame whose belief it sees; a loaded machine may make
    # it skip one for a newer belief, which the report must count as unanswered.
    assert report["frames"] == 12
    answered = report["end_to_end"]["n"]
    assert answered >= 11 and report["unanswered"] == 12 - answered
    assert report["deadline_misses"] >= report["unanswered"]
    for stage in ("encode", "filter"):
        assert report[stage]["n"] == 12 and report[stage]["p50_ms"] > 0, stage
    assert report["plan"]["n"] == answered and report["plan"]["p50_ms"] > 0
    parts = sum(report[s]["p50_ms"] for s in ("encode", "filter", "plan"))
    assert report["end_to_end"]["p50_ms"] <= parts * 1.5 + 1.0  # the stages add up
    assert (path / "engines").is_dir()  # the nodes built the engines beside the checkpoint


def test_an_unavailable_backend_stops_the_graph_with_its_reason(tmp_path, capsys):
    from vla_wm_ros.cli import main

    path = make_tiny_checkpoint(tmp_path / "ckpt")
    assert main(["run", "--sim", "none", "--model-dir", str(path), "--backend", "tensorrt"]) == 2
    assert "backend tensorrt is not available" in capsys.readouterr().err
