"""The stage loop shared by every stage: progress bar, TensorBoard, loss curve, resume.

A stage is a `step(i) -> dict of floats` closure over its modules and optimisers.
Every `checkpoint_every` steps the loop saves the resumable state; after a kill, the
next run loads it, drops the curve rows past it, and continues with the same RNG
streams, so the curve continues as if nothing had happened.
"""

from __future__ import annotations

import csv
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from vla_wm_ros.training import distributed
from vla_wm_ros.training.state import STATE_FILE, load_state, save_state

StepFn = Callable[[int], dict[str, float]]  # step index (0-based) -> logged terms


class Interrupted(Exception):
    """Raised when a run stops early on purpose (`stop_after`); the state is saved."""


@dataclass
class RunContext:
    out: Path
    checkpoint_every: int
    log_every: int
    progress: bool = True
    stop_after: int | None = None  # optimiser steps in this invocation, then Interrupted
    steps_this_run: int = 0
    writer: object = field(default=None, repr=False)

    def tensorboard(self):
        if self.writer is None:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(self.out / "tensorboard"))
        return self.writer

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def curve_path(out: Path, stage: str) -> Path:
    return out / "curves" / f"{stage}.csv"


def read_curve(out: Path, stage: str) -> list[dict[str, float]]:
    path = curve_path(out, stage)
    if not path.is_file():
        return []
    with path.open() as f:
        return [{k: float(v) for k, v in row.items() if v != ""} for row in csv.DictReader(f)]


def _truncate_curve(out: Path, stage: str, step: int) -> None:
    rows = [r for r in read_curve(out, stage) if r["step"] <= step]
    path = curve_path(out, stage)
    if path.is_file():
        path.unlink()
    for row in rows:
        _append_curve(out, stage, row)


def _append_curve(out: Path, stage: str, row: dict[str, float]) -> None:
    """Append a row; a row with new terms (BC, then actor-critic) widens the header."""
    path = curve_path(out, stage)
    path.parent.mkdir(parents=True, exist_ok=True)
    header: list[str] = []
    if path.is_file():
        with path.open() as f:
            header = next(csv.reader(f), [])
    if header and set(row) <= set(header):
        with path.open("a", newline="") as f:
            csv.DictWriter(f, fieldnames=header, restval="").writerow(row)
        return
    rows = [*read_curve(out, stage), row]
    fields = header + [k for k in row if k not in header]
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, restval="")
        w.writeheader()
        w.writerows(rows)


def run_stage(
    ctx: RunContext,
    stage: str,
    steps: int,
    step: StepFn,
    modules: dict[str, nn.Module],
    optimizers: dict[str, torch.optim.Optimizer],
    rngs: dict[str, np.random.Generator],
) -> dict:
    """Run `step` until `steps` optimiser steps are done; returns a summary of the stage."""
    from tqdm import tqdm

    state_dir = ctx.out / "train_state" / stage
    main = distributed.is_main()
    # Rank 0's state holds the modules and optimisers; every other rank keeps its own RNG
    # streams (its data shard's sampler) beside it, so a resumed run continues exactly.
    own_dir = state_dir if main else state_dir / f"rank{distributed.rank()}"
    start, elapsed = 0, 0.0
    if (state_dir / STATE_FILE).is_file():
        progress = load_state(state_dir, modules, optimizers, rngs)
        if not main and (own_dir / STATE_FILE).is_file():
            load_state(own_dir, {}, {}, rngs)
        start, elapsed = int(progress["step"]), float(progress.get("elapsed_s", 0.0))
        if main:
            _truncate_curve(ctx.out, stage, start)
            print(f"[train] {stage}: resuming at step {start}/{steps}", file=sys.stderr)
    distributed.broadcast_parameters(modules.values())
    bar = tqdm(
        total=steps,
        initial=start,
        desc=stage,
        unit="step",
        disable=not (ctx.progress and main),
        file=sys.stderr,
    )
    last: dict[str, float] = {}
    t0 = time.perf_counter() - elapsed
    for i in range(start, steps):
        terms = distributed.mean_terms(step(i))
        last = terms
        n = i + 1
        if main and (n % ctx.log_every == 0 or n == steps):
            row = {"step": float(n), **{k: float(v) for k, v in terms.items()}}
            _append_curve(ctx.out, stage, row)
            writer = ctx.tensorboard()
            for key, value in terms.items():
                writer.add_scalar(f"{stage}/{key}", value, n)
            bar.set_postfix({k: f"{v:.3g}" for k, v in list(terms.items())[:4]})
        bar.update(1)
        ctx.steps_this_run += 1
        stopping = ctx.stop_after is not None and ctx.steps_this_run >= ctx.stop_after
        if n % ctx.checkpoint_every == 0 or n == steps or stopping:
            progress = {"step": n, "steps": steps, "elapsed_s": time.perf_counter() - t0}
            if main:
                save_state(state_dir, modules, optimizers, rngs, progress)
            else:
                save_state(own_dir, {}, {}, rngs, progress)
        if stopping and n < steps:
            bar.close()
            raise Interrupted(f"{stage}: stopped after step {n} of {steps} (--stop-after)")
    bar.close()
    return {"steps": steps, "wall_s": round(time.perf_counter() - t0, 1), "last": last}


def clip_step(
    loss: torch.Tensor, optimizer: torch.optim.Optimizer, params: list, clip: float
) -> float:
    """Backward, average the gradients over processes (data-parallel runs), clip, step;
    returns the gradient norm before clipping."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    distributed.average_gradients(params)
    norm = torch.nn.utils.clip_grad_norm_(params, clip)
    optimizer.step()
    return float(norm)
