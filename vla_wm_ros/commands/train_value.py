"""`vla-wm train-value`: fit the planner's offline value (Q ensemble + V, IQL) on a
checkpoint's frozen world model from recorded episodes."""

from __future__ import annotations

import argparse
import json
import sys

NAME = ("train-value",)
HELP = "fit the offline value (Q ensemble + V by IQL) on recorded episodes (resumable)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ckpt", required=True, help="checkpoint whose world model is used")
    parser.add_argument("--data", required=True, help="dataset directory (vla-wm collect)")
    parser.add_argument("--out", required=True, help="run directory (model/, curves/, state)")
    parser.add_argument("--config", help="ValueRunConfig YAML (value: sizes, train: fitting)")
    parser.add_argument("--steps", type=int, help="override train.steps")
    parser.add_argument("--split-seed", type=int, help="override train.split_seed")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--json", action="store_true", help="print the run summary as JSON")


def run(args: argparse.Namespace) -> int:
    import torch

    from vla_wm_ros.config.loader import ConfigError, load_yaml
    from vla_wm_ros.data.layout import DatasetError
    from vla_wm_ros.data.loader import default_embedder
    from vla_wm_ros.models.checkpoint import CheckpointError
    from vla_wm_ros.training.state import TrainStateError
    from vla_wm_ros.training.value import ValueRunConfig, train_value

    torch.set_num_threads(args.threads)
    try:
        cfg = load_yaml(ValueRunConfig, args.config) if args.config else ValueRunConfig()
        if args.steps is not None:
            cfg.train.steps = args.steps
        if args.split_seed is not None:
            cfg.train.split_seed = args.split_seed
        report = train_value(args.ckpt, args.data, args.out, cfg, default_embedder(), args.resume)
    except (
        ConfigError, DatasetError, CheckpointError, TrainStateError, FileNotFoundError,
        FileExistsError, ValueError,
    ) as exc:  # fmt: skip
        print(f"train-value: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report))
    else:
        print(f"{report['steps']} steps in {report['wall_s']} s -> {report['model']}")
        print(json.dumps(report["val"]))
    return 0
