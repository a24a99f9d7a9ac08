"""`vla-wm bench render`: offscreen rendering frames/s of the simulator (target >= 25 at 64x64)."""

from __future__ import annotations

import argparse
import os
import platform
import sys

NAME = ("bench", "render")
HELP = "simulator rendering frames/s (render only, step only, step + render) per task"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tasks", default="button-press-topdown,drawer-open,pick-place")
    parser.add_argument("--image-size", type=int, default=64, help="square image size, pixels")
    parser.add_argument("--camera", default="orbit", help="'orbit' or a Meta-World camera")
    parser.add_argument("--frames", type=int, default=200, help="timed frames per figure")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from vla_wm_ros.bench.render import measure_render
    from vla_wm_ros.bench.report import print_report

    tasks = [t for t in args.tasks.split(",") if t]
    results = [
        measure_render(task, args.image_size, args.camera, args.frames)
        for task in tqdm(tasks, desc="bench render", file=sys.stderr)
    ]
    report = {
        "image_size": args.image_size,
        "camera": args.camera,
        "frames": args.frames,
        "mujoco_gl": os.environ.get("MUJOCO_GL", ""),
        "cpu": platform.processor() or platform.machine(),
        "tasks": results,
        "min_render_fps": min(r["render_fps"] for r in results),
        "min_step_render_fps": min(r["step_render_fps"] for r in results),
        "target_fps": 25.0,
    }
    return print_report(
        report,
        args.json,
        (
            f"{r['task']:>22}: render {r['render_fps']:7.1f} fps, step {r['step_fps']:7.1f}"
            f" fps, step+render {r['step_render_fps']:7.1f} fps"
            for r in results
        ),
    )
