"""`vla-wm snapshot`: a loadable checkpoint of a training run in progress."""

from __future__ import annotations

import argparse
import json
import sys

NAME = ("snapshot",)
HELP = "checkpoint of a run in progress: model/ with the running stage's latest weights"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run", required=True, help="run directory of `vla-wm train`")
    parser.add_argument("--out", required=True, help="checkpoint directory to write")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def run(args: argparse.Namespace) -> int:
    from vla_wm_ros.models.checkpoint import CheckpointError
    from vla_wm_ros.training.snapshot import snapshot
    from vla_wm_ros.training.state import TrainStateError
    from vla_wm_ros.training.trainer import TrainError

    try:
        info = snapshot(args.run, args.out)
    except (CheckpointError, TrainError, TrainStateError) as exc:
        print(f"snapshot: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(info))
    else:
        where = f"{info['stage']} step {info['step']}" if info["stage"] else "finished stages"
        print(f"{args.out}: model of {args.run} as of {where}")
    return 0
