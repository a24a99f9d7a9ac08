"""`vla-wm collect`: roll scripted/noisy/random policies in Meta-World into a dataset."""

from __future__ import annotations

import argparse
import json
import sys

NAME = ("collect",)
HELP = "collect simulator episodes (expert, noisy-expert, random) into a LeRobot-style dataset"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tasks", default="mt10", help="comma-separated task names, or mt10")
    parser.add_argument("--episodes", type=int, required=True, help="episodes per task and policy")
    parser.add_argument(
        "--policy",
        default="expert",
        help="comma-separated: expert, noisy-expert, random (episodes each)",
    )
    parser.add_argument("--out", required=True, help="dataset directory (must not exist)")
    parser.add_argument("--append", action="store_true", help="add to an existing dataset")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2, help="simulator processes")
    parser.add_argument("--max-steps", type=int, default=150, help="steps per episode")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument(
        "--camera",
        default="orbit",
        help="orbit, orbit-near (closer over the table) or a Meta-World camera name",
    )
    parser.add_argument(
        "--goal-marker-radius",
        type=float,
        default=None,
        help="draw the goal marker with this radius (m); default: Meta-World's 0.02",
    )
    parser.add_argument(
        "--paraphrase", action="store_true", help="seeded paraphrase instead of canonical text"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON summary on stdout")


def run(args: argparse.Namespace) -> int:
    from vla_wm_ros.data.collect import Job, collect
    from vla_wm_ros.data.layout import DatasetError
    from vla_wm_ros.language.suite import load_suite
    from vla_wm_ros.sim.policies import POLICY_KINDS
    from vla_wm_ros.training import distributed

    names = load_suite().names
    tasks = names if args.tasks == "mt10" else [t for t in args.tasks.split(",") if t]
    unknown = sorted(set(tasks) - set(names))
    policies = [p for p in args.policy.split(",") if p]
    bad = sorted(set(policies) - set(POLICY_KINDS))
    if unknown or bad or args.episodes <= 0:
        problems = [f"unknown task(s) {', '.join(unknown)}" if unknown else ""]
        problems.append(f"unknown policy {', '.join(bad)}" if bad else "")
        problems.append("--episodes must be positive" if args.episodes <= 0 else "")
        print("collect: " + "; ".join(p for p in problems if p), file=sys.stderr)
        return 2
    jobs = [
        Job(
            t,
            n,
            p,
            args.seed,
            args.max_steps,
            args.image_size,
            args.camera,
            args.paraphrase,
            args.goal_marker_radius,
        )
        for t in tasks
        for p in policies
        for n in range(args.episodes)
    ]
    try:
        with distributed.process_group("cpu"):
            summary = collect(args.out, jobs, workers=args.workers, append=args.append)
    except DatasetError as exc:
        print(f"collect: {exc}", file=sys.stderr)
        return 1
    if not summary:  # a torchrun process other than rank 0: rank 0 reports
        return 0
    if args.json:
        print(json.dumps(summary))
    else:
        print(
            f"wrote {summary['episodes']} episodes, {summary['frames']} frames to {summary['out']}"
        )
        for key, rate in summary["success_rate"].items():
            print(f"  {key}: success {rate:.0%}")
    return 0
