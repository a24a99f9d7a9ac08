"""`vla-wm bench control-loop`: image in -> action out through the ROS graph, per backend.

For each inference backend available here (or those named), starts the graph with that
backend and the planner triggered by each new belief, plays simulator frames at the
control rate through the camera and joint-state topics, and times every frame through
the encoder, the filter and the planner to the command topic: p50/p95/p99 per stage and
end to end, and deadline misses at the control period over --ticks frames.
"""

from __future__ import annotations

import argparse
import sys

NAME = ("bench", "control-loop")
HELP = "control-loop latency per stage and deadline misses through ROS, per backend"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backends", default="", help="comma-separated (default: all here)")
    parser.add_argument("--ticks", type=int, default=600, help="timed frames per backend")
    parser.add_argument("--warmup", type=int, default=20, help="answered frames before timing")
    parser.add_argument("--rate", type=float, default=10.0, help="frames per second (Hz)")
    parser.add_argument("--instruction", default="press the button", help="goal to plan for")
    parser.add_argument("--task", default="button-press-topdown", help="task of the frames")
    parser.add_argument("--model-dir", default="", help="checkpoint (default: shipped)")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def record_frames(task: str, count: int = 60, seed: int = 0):
    """Camera frames and proprioception of one expert episode on `task`."""
    from vla_wm_ros.sim.env import MetaWorldEnv
    from vla_wm_ros.sim.policies import expert_action

    frames, proprio = [], []
    with MetaWorldEnv(task=task, seed=seed) as env:
        obs = env.reset(seed)
        for _ in range(count):
            frames.append(obs.image)
            proprio.append(obs.proprio)
            obs = env.step(expert_action(env, obs)).obs
    return frames, proprio


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from vla_wm_ros.bench.control_loop import run_backend
    from vla_wm_ros.bench.machine import machine_info
    from vla_wm_ros.bench.report import print_report
    from vla_wm_ros.deploy.backends import BACKENDS, available_backends

    here = available_backends(args.device)
    names = [b for b in args.backends.split(",") if b] or here
    skipped = {n: BACKENDS[n].unavailable(args.device, "fp32") for n in BACKENDS if n not in here}
    missing = [n for n in names if n not in here]
    if missing:
        for n in missing:
            print(f"vla-wm bench control-loop: {n}: {skipped.get(n, 'unknown')}", file=sys.stderr)
        return 2
    frames, proprio = record_frames(args.task)
    results = {}
    for name in tqdm(names, desc="bench control-loop", file=sys.stderr):
        results[name] = run_backend(
            name, frames, proprio, args.ticks, args.warmup, args.rate, args.instruction,
            args.model_dir, args.device,
        )  # fmt: skip
    report = {
        "what": "frame published -> command received, through ROS topics in one process; "
        "planner trigger: belief; default planner preset; shipped checkpoint",
        "rate_hz": args.rate,
        "ticks": args.ticks,
        "machine": machine_info(),
        "backends": results,
        "skipped": skipped,
    }
    lines = [
        f"{name:12s} end to end p50/p95/p99 {r['end_to_end']['p50_ms']:.1f}/"
        f"{r['end_to_end']['p95_ms']:.1f}/{r['end_to_end']['p99_ms']:.1f} ms; encode "
        f"{r['encode']['p50_ms']:.1f}, filter {r['filter']['p50_ms']:.1f}, plan "
        f"{r['plan']['p50_ms']:.1f} ms p50; deadline misses {r['deadline_misses']}/{r['frames']}"
        for name, r in results.items()
    ]
    lines += [f"{name:12s} skipped: {reason}" for name, reason in skipped.items()]
    return print_report(report, args.json, lines)
