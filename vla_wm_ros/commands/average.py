"""`vla-wm average`: one checkpoint whose actor is the mean of several checkpoints' actors."""

from __future__ import annotations

import argparse
import sys

NAME = ("average",)
HELP = "average the actor weights of checkpoints of one world model (e.g. DAgger rounds)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("ckpts", nargs="+", help="checkpoint directories (two or more)")
    parser.add_argument("--out", required=True, help="directory for the averaged checkpoint")


def run(args: argparse.Namespace) -> int:
    import shutil
    from pathlib import Path

    from vla_wm_ros.config.loader import ConfigError
    from vla_wm_ros.models.checkpoint import (
        CheckpointError,
        load_checkpoint,
        read_meta,
        save_checkpoint,
    )
    from vla_wm_ros.training.actor_average import average_actors

    try:
        model = average_actors([load_checkpoint(c) for c in args.ckpts])
    except (CheckpointError, ConfigError) as exc:
        print(f"average: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out)
    save_checkpoint(model, out, extra=dict(read_meta(args.ckpts[-1]), actor_average_of=args.ckpts))
    for extra in Path(args.ckpts[-1]).glob("dynamics_*.safetensors"):
        shutil.copy(extra, out / extra.name)
    print(f"average: actor of {len(args.ckpts)} checkpoints -> {out}")
    return 0
