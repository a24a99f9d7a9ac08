"""`vla-wm eval view-probe`: can a camera's first frame tell where the goal and object are?

A small CNN is trained from scratch per task on the first frames of many placements and
scored on new ones (evaluation/view_probe.py): a bound on what a world model could read
from this view, to set against `vla-wm eval probe` (what the trained belief does read).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

NAME = ("eval", "view-probe")
HELP = "train a small CNN on first frames of many placements: goal/object error (cm) per task"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from vla_wm_ros.evaluation.view_probe import ViewProbeConfig

    d = ViewProbeConfig()
    parser.add_argument("--tasks", default="reach,push,pick-place")
    parser.add_argument("--camera", default=d.camera, help="orbit, orbit-near or a Meta-World one")
    parser.add_argument("--image-size", type=int, default=d.image_size)
    parser.add_argument("--goal-marker-radius", type=float, default=d.goal_marker_radius)
    parser.add_argument("--placements", type=int, default=d.placements, help="training, per task")
    parser.add_argument("--test-placements", type=int, default=d.test_placements)
    parser.add_argument("--steps", type=int, default=d.steps, help="CNN updates per task")
    parser.add_argument("--seed", type=int, default=d.seed)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def run(args: argparse.Namespace) -> int:
    import torch

    from vla_wm_ros.config import ConfigError
    from vla_wm_ros.evaluation.view_probe import ViewProbeConfig, probe_view
    from vla_wm_ros.sim.tasks import check_task

    if args.placements < 2 or args.test_placements < 1 or args.steps < 1:
        raise ConfigError("--placements >= 2, --test-placements >= 1 and --steps >= 1")
    if args.image_size % 16:
        raise ConfigError(f"--image-size must be a multiple of 16, got {args.image_size}")
    try:
        tasks = [check_task(t) for t in args.tasks.split(",") if t]
    except ValueError as exc:
        print(f"vla-wm eval view-probe: {exc}", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    cfg = ViewProbeConfig(
        camera=args.camera,
        image_size=args.image_size,
        goal_marker_radius=args.goal_marker_radius,
        placements=args.placements,
        test_placements=args.test_placements,
        steps=args.steps,
        seed=args.seed,
    )
    results = {}
    for task in tasks:
        started = time.perf_counter()
        results[task] = probe_view(task, cfg)
        results[task]["wall_s"] = round(time.perf_counter() - started, 1)
        goal, obj = results[task]["goal"], results[task]["object"]
        print(
            f"[view-probe] {task}: goal {goal['cm']:.2f} cm (image-blind guess "
            f"{goal['mean_guess_cm']:.2f}), object {obj['cm']:.2f} cm "
            f"({obj['mean_guess_cm']:.2f}), {results[task]['wall_s']:.0f} s",
            file=sys.stderr,
        )
    report = {"config": vars(cfg), "results": results}
    if args.json:
        print(json.dumps(report))
    return 0
