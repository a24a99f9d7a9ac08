"""`backend: auto`: the fastest backend available here, measured once and remembered.

The measure is one control tick as the nodes run it: encode a frame, one filter step, and
one plan of the default planner preset, median over a few ticks after warm-up. The
choice is written to `auto.yaml` in the engine cache with every backend's time, keyed by
checkpoint, torch version, device, precision, thread count and the candidate list; a
launch with the same key reads it instead of measuring again.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
import yaml

from vla_wm_ros.deploy.backends import BackendUnavailable, available_backends
from vla_wm_ros.models.checkpoint import checkpoint_hash
from vla_wm_ros.models.world_model import WorldModel

AUTO_FILE = "auto.yaml"


def tick_ms(world_model: WorldModel, deployed, ticks: int = 7, warmup: int = 2) -> float:
    """Median ms of encode + filter + plan (default preset) with `deployed`'s units."""
    from vla_wm_ros.planning import build_planner, load_preset
    from vla_wm_ros.planning.world_model_adapter import WorldModelPlanningModel

    size = world_model.cfg.encoder.image_size
    planner = build_planner(
        load_preset("default"), WorldModelPlanningModel(world_model, units=deployed)
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
            if i >= warmup:
                times.append((time.perf_counter() - start) * 1e3)
    return float(np.median(times))


def choose_backend(
    world_model: WorldModel,
    model_dir: Path,
    device: str,
    precision: str,
    root: Path,
    force: bool = False,
    candidates: list[str] | None = None,
) -> str:
    """The remembered choice for this key, else measure every candidate (default: every
    backend available here) and remember the fastest."""
    from vla_wm_ros.deploy.deployed import deploy

    here = available_backends(device, precision)
    candidates = here if candidates is None else [c for c in candidates if c in here]
    if not candidates:
        raise BackendUnavailable(f"no backend runs {precision} on {device} here")
    key = {
        "checkpoint": checkpoint_hash(model_dir),
        "torch": str(torch.__version__),
        "device": device,
        "precision": precision,
        "threads": torch.get_num_threads(),
        "candidates": candidates,
    }
    path = root / AUTO_FILE
    if not force and path.is_file():
        try:
            remembered = yaml.safe_load(path.read_text())
        except yaml.YAMLError:
            remembered = None
        if isinstance(remembered, dict) and remembered.get("key") == key:
            return str(remembered["backend"])
    measured = {}
    for name in candidates:
        deployed = deploy(world_model, model_dir, name, device, precision, root, force)
        measured[name] = round(tick_ms(world_model, deployed), 3)
    best = min(measured, key=measured.get)
    root.mkdir(parents=True, exist_ok=True)
    record = {"key": key, "backend": best, "tick_ms": measured}
    path.write_text(yaml.safe_dump(record, sort_keys=False))
    return best
