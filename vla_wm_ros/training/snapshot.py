"""A loadable checkpoint of a run in progress: model/ with the running stage's latest weights.

`vla-wm train` rewrites model/ only when a stage finishes, and a long stage (10,000 steps
of stage 2) runs for hours, across sessions. Its resumable state (train_state/<stage>)
holds the stage's modules as of its last checkpoint; laid over model/ they give the model
as it is now, to evaluate or plan with, without touching the run.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from torch import nn

from vla_wm_ros.models.checkpoint import load_checkpoint, read_meta, save_checkpoint
from vla_wm_ros.models.world_model import WorldModel
from vla_wm_ros.training.config import STAGES
from vla_wm_ros.training.state import STATE_FILE, module_tensors, read_state
from vla_wm_ros.training.trainer import MODEL_DIR, TrainError


def _target(wm: WorldModel, name: str) -> nn.Module | None:
    """The world-model part a state module is (None: a training-only module, another kind)."""
    if name == f"dynamics_{wm.cfg.dynamics.kind}":
        return wm.dynamics
    part = getattr(wm, name, None)
    return part if isinstance(part, nn.Module) else None


def running_stage(run: Path) -> str | None:
    """The unfinished stage with a saved state, if any."""
    run_file = run / "run.yaml"
    finished = yaml.safe_load(run_file.read_text())["stages"] if run_file.is_file() else {}
    running = [
        s for s in STAGES if s not in finished and (run / "train_state" / s / STATE_FILE).is_file()
    ]
    return running[0] if running else None


def snapshot(run: str | Path, out: str | Path) -> dict:
    """Write run's current model to `out` (a checkpoint directory); returns what it holds."""
    run = Path(run)
    if not (run / MODEL_DIR).is_dir():
        raise TrainError(f"{run}: no {MODEL_DIR}/ yet (the first stage has not finished)")
    wm = load_checkpoint(run / MODEL_DIR)
    meta = read_meta(run / MODEL_DIR)
    stage = running_stage(run)
    info: dict = {"run": str(run.absolute()), "stage": stage, "step": None, "modules": []}
    if stage is not None:
        tensors, progress = read_state(run / "train_state" / stage)
        names = sorted({k.split(".")[1] for k in tensors if k.startswith("module.")})
        for name in names:
            target = _target(wm, name)
            if target is not None:
                target.load_state_dict(module_tensors(tensors, name))
                info["modules"].append(name)
        info["step"] = int(progress["step"])
        info["steps"] = int(progress["steps"])
    save_checkpoint(wm, out, extra={**meta, "snapshot": info})
    return info
