"""`backend: auto`: the fastest backend available here, measured once and remembered.

The measure is one control tick as the nodes run it: encode a frame, one filter step, and
one plan of the default planner preset, median over a few ticks after warm-up, paced at
the control period (the idle gap between ticks matters: on this CPU eager PyTorch's
thread pool plans ~40 ms back to back but ~59 ms at 10 Hz, ONNX Runtime ~36 and ~41 ms).
The choice is written to `auto.yaml` in the engine cache with every backend's time,
keyed by checkpoint, torch version, device, precision, thread count and the candidate
list; a launch with the same key reads it instead of measuring again. Nodes started
together (ros2 launch) take a file lock, so one measures and the others read its answer.

`compile` is not a candidate: torch.compile traces and compiles again in every process
(30-40 s per launch for the shipped model here) and measured no faster; name it
explicitly to use it.
"""

from __future__ import annotations

import contextlib
import fcntl
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
import yaml

from vla_wm_ros.deploy.backends import BackendUnavailable, available_backends
from vla_wm_ros.models.checkpoint import checkpoint_hash
from vla_wm_ros.models.world_model import WorldModel

AUTO_FILE = "auto.yaml"
NOT_CANDIDATES = ("compile",)  # compiles again in every process: see the module docstring


def tick_ms(
    world_model: WorldModel, deployed, ticks: int = 7, warmup: int = 2, period: float = 0.1
) -> float:
    """Median ms of encode + filter + plan (default preset) with `deployed`'s units, one
    tick per `period` seconds."""
    from vla_wm_ros.planning import build_planner, load_planner_preset
    from vla_wm_ros.planning.world_model_adapter import WorldModelPlanningModel

    size = world_model.cfg.encoder.image_size
    planner = build_planner(
        load_planner_preset("default"), WorldModelPlanningModel(world_model, units=deployed)
    )
    gen = torch.Generator().manual_seed(0)
    image = torch.randint(0, 256, (1, 3, size, size), generator=gen, dtype=torch.uint8)
    rssm = world_model.rssm
    feature = torch.zeros(1, rssm.feature_dim)
    action = torch.zeros(1, world_model.action_dim)
    proprio = torch.zeros(1, world_model.cfg.proprio_dim)
    goal = torch.randn(world_model.cfg.goal_dim, generator=gen)
    goal = goal / goal.norm()
    times = []
    with torch.inference_mode():
        for i in range(warmup + ticks):
            start = time.perf_counter()
            features = deployed["image"](image)
            feature = deployed["observe"](feature, action, features, proprio)
            action = torch.as_tensor(planner.plan(feature, goal).action)[None]
            took = time.perf_counter() - start
            if i >= warmup:
                times.append(took * 1e3)
            time.sleep(max(0.0, period - took))
    return float(np.median(times))


def choose_backend(
    world_model: WorldModel,
    model_dir: Path,
    device: str,
    precision: str,
    root: Path,
    force: bool = False,
    candidates: list[str] | None = None,
    checkpoint: str | None = None,
) -> str:
    """The remembered choice for this key, else measure every candidate (default: every
    backend available here but compile) and remember the fastest. `checkpoint`: the
    directory's `checkpoint_hash` when the caller has it already."""
    from vla_wm_ros.deploy.deployed import deploy

    here = available_backends(device, precision)
    if candidates is None:
        candidates = [c for c in here if c not in NOT_CANDIDATES]
    candidates = [c for c in candidates if c in here]
    if not candidates:
        raise BackendUnavailable(f"no backend runs {precision} on {device} here")
    checkpoint = checkpoint or checkpoint_hash(model_dir)
    key = {
        "checkpoint": checkpoint,
        "torch": str(torch.__version__),
        "device": device,
        "precision": precision,
        "threads": torch.get_num_threads(),
        "candidates": candidates,
    }
    path = root / AUTO_FILE
    with _exclusive(root):  # nodes launched together: one measures, the others read
        if not force and path.is_file():
            try:
                remembered = yaml.safe_load(path.read_text())
            except yaml.YAMLError:
                remembered = None
            if isinstance(remembered, dict) and remembered.get("key") == key:
                return str(remembered["backend"])
        measured = {}
        for name in candidates:
            deployed = deploy(
                world_model, model_dir, name, device, precision, root, force, checkpoint=checkpoint
            )
            measured[name] = round(tick_ms(world_model, deployed), 3)
        best = min(measured, key=measured.get)
        record = {"key": key, "backend": best, "tick_ms": measured}
        path.write_text(yaml.safe_dump(record, sort_keys=False))
        return best


@contextlib.contextmanager
def _exclusive(root: Path) -> Iterator[None]:
    """Hold the engine cache's auto.lock (released when the file closes)."""
    root.mkdir(parents=True, exist_ok=True)
    with (root / "auto.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield
