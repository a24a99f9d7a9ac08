"""`vla-wm average`: one checkpoint whose actor is the mean of several checkpoints' actors."""

from __future__ import annotations

import argparse
import sys

NAME = ("average",)
HELP = "average the actor weights of checkpoints of one world model (e.g. DAgger rounds)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("ckpts", nargs="+", help="checkpoint directories (two or more)")
    parser.add_argument("--out", required=True, help="directory for the averaged checkpoint")
    parser.add_argument(
        "--value-from",
        help="also take the offline value of this checkpoint of the same world model "
        "(`vla-wm train-value` output), e.g. one fitted while DAgger ran",
    )


def run(args: argparse.Namespace) -> int:
    import shutil
    from pathlib import Path

    from vla_wm_ros.config.loader import ConfigError
    from vla_wm_ros.models.checkpoint import (
        CheckpointError,
        load_checkpoint,
        read_meta,
        save_checkpoint,
        write_manifest,
    )
    from vla_wm_ros.training.actor_average import attach_value, average_actors

    try:
        model = average_actors([load_checkpoint(c) for c in args.ckpts])
        if args.value_from:
            model = attach_value(model, load_checkpoint(args.value_from))
    except (CheckpointError, ConfigError) as exc:
        print(f"average: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out)
    meta = dict(read_meta(args.ckpts[-1]), actor_average_of=args.ckpts)
    if args.value_from:
        meta |= {"value": read_meta(args.value_from).get("value"), "value_from": args.value_from}
    save_checkpoint(model, out, extra=meta)
    for extra in Path(args.ckpts[-1]).glob("dynamics_*.safetensors"):
        shutil.copy(extra, out / extra.name)
    write_manifest(out)  # with the copied dynamics, so that they are checked at load too
    print(f"average: actor of {len(args.ckpts)} checkpoints -> {out}")
    return 0
