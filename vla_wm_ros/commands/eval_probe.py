"""`vla-wm eval probe`: how well the belief locates the hand, object and goal."""

from __future__ import annotations

import argparse
import json
import sys

NAME = ("eval", "probe")
HELP = "ridge probes from the belief to the simulator's hand/object/goal positions (cm)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ckpt", required=True, help="checkpoint directory")
    parser.add_argument("--data", required=True, help="Meta-World dataset (records its state)")
    parser.add_argument("--tasks", default="reach,push,pick-place,drawer-open")
    parser.add_argument("--targets", default="goal,object", help="of: hand, object, goal")
    parser.add_argument(
        "--first-steps",
        type=int,
        default=3,
        help="score each episode's first N steps (before the hand moves); 0: every step",
    )
    parser.add_argument("--policies", default="expert,noisy-expert")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def run(args: argparse.Namespace) -> int:
    import torch

    from vla_wm_ros.data.layout import DatasetError
    from vla_wm_ros.data.loader import default_embedder
    from vla_wm_ros.data.reader import EpisodeDataset
    from vla_wm_ros.evaluation.belief_probe import STATE_SLICES, ProbeConfig, probe_belief
    from vla_wm_ros.models.checkpoint import CheckpointError, load_checkpoint

    torch.set_num_threads(args.threads)
    targets = tuple(t for t in args.targets.split(",") if t)
    unknown = sorted(set(targets) - set(STATE_SLICES))
    if unknown or args.folds < 2 or args.first_steps < 0:
        print(
            f"eval probe: targets must be of {', '.join(STATE_SLICES)} (got {unknown}), "
            "--folds >= 2, --first-steps >= 0",
            file=sys.stderr,
        )
        return 2
    cfg = ProbeConfig(
        targets=targets,
        first_steps=args.first_steps,
        folds=args.folds,
        policies=tuple(p for p in args.policies.split(",") if p),
    )
    try:
        wm = load_checkpoint(args.ckpt)
        dataset = EpisodeDataset(args.data)
        tasks = [t for t in args.tasks.split(",") if t]
        report = probe_belief(wm, dataset, tasks, default_embedder(), cfg)
    except (CheckpointError, DatasetError, ValueError) as exc:
        print(f"eval probe: {exc}", file=sys.stderr)
        return 2
    report |= {"ckpt": args.ckpt, "data": args.data}
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"probe on the first {cfg.first_steps} steps, {cfg.folds}-fold by episode (cm):")
    for task, row in report["tasks"].items():
        cells = [
            f"{t} {row[t]['error_cm']:.1f} (mean guess {row[t]['mean_guess_error_cm']:.1f}"
            + "".join(f", {k[:-3]} {v:.1f}" for k, v in row[t].items() if k.endswith("head_cm"))
            + ")"
            for t in targets
        ]
        print(f"  {task:<22} {row['episodes']:>3} episodes  " + "  ".join(cells))
    return 0
