"""`vla-wm eval actor`: closed-loop success of the learned actor alone in Meta-World."""

from __future__ import annotations

import argparse
import json
import sys

NAME = ("eval", "actor")
HELP = "roll out the goal-conditioned actor (RSSM belief, no planner, no ROS) per task"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ckpt", required=True, help="checkpoint directory (config.yaml, ...)")
    parser.add_argument("--tasks", default="mt10", help="comma-separated task names, or mt10")
    parser.add_argument("--episodes", type=int, default=5, help="unseen placements per task")
    parser.add_argument("--max-steps", type=int, default=150)
    parser.add_argument(
        "--camera",
        default=None,
        help="override the camera the checkpoint's data was rendered with (meta.yaml "
        "observation; a warning names both)",
    )
    parser.add_argument("--seed", type=int, default=0, help="selects the placement seeds")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def run(args: argparse.Namespace) -> int:
    import torch

    from vla_wm_ros.config.loader import ConfigError
    from vla_wm_ros.data.loader import default_embedder
    from vla_wm_ros.evaluation.actor_rollout import evaluate_actor
    from vla_wm_ros.language.suite import load_suite
    from vla_wm_ros.models.checkpoint import CheckpointError, load_checkpoint
    from vla_wm_ros.sim.observation import read_observation, simulator_observation

    torch.set_num_threads(args.threads)
    names = load_suite().names
    tasks = names if args.tasks == "mt10" else [t for t in args.tasks.split(",") if t]
    unknown = sorted(set(tasks) - set(names))
    if unknown or args.episodes <= 0:
        problem = f"unknown task(s) {', '.join(unknown)}" if unknown else "--episodes must be > 0"
        print(f"eval actor: {problem}", file=sys.stderr)
        return 2
    try:
        wm = load_checkpoint(args.ckpt)
        recorded = read_observation(args.ckpt)
        observation, warnings = simulator_observation(recorded, args.ckpt, camera=args.camera)
    except (CheckpointError, ConfigError) as exc:
        print(f"eval actor: {exc}", file=sys.stderr)
        return 2
    for warning in warnings:
        print(f"eval actor: warning: {warning}", file=sys.stderr)
    result = evaluate_actor(
        wm,
        tasks,
        args.episodes,
        default_embedder(),
        max_steps=args.max_steps,
        observation=observation,
        seed=args.seed,
    )
    if args.json:
        print(json.dumps(result))
    else:
        for task, row in result["per_task"].items():
            print(f"{task:<22} success {row['success_rate']:.2f} ({row['episodes']} episodes)")
        print(f"mean success {result['mean_success_rate']:.2f} in {result['wall_s']} s")
    return 0
