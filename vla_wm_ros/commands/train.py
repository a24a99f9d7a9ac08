"""`vla-wm train`: the training stages over a dataset (collected, imported from bags, or
any LeRobot dataset with square frames).

Data-parallel across processes and hosts when started by torchrun, e.g. on one machine
`torchrun --standalone --nproc-per-node 2 .venv/bin/vla-wm train ...` (each process
takes --threads / processes-on-this-host threads; docs/DISTRIBUTED.md: multi-host).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

NAME = ("train",)
HELP = "train the world model, latent dynamics and actor-critic in stages (resumable)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", default="default", help="training preset: tiny, default, long")
    parser.add_argument("--config", help="training config YAML (instead of --preset)")
    parser.add_argument(
        "--data",
        required=True,
        help="dataset directory (vla-wm collect, bag import, data import; or LeRobot v3/v2.1)",
    )
    parser.add_argument("--out", required=True, help="run directory (model/, curves/, ...)")
    parser.add_argument(
        "--stages",
        default="temporal,world_model,dynamics,actor_critic",
        help="comma-separated subset, run in pipeline order",
    )
    parser.add_argument("--resume", action="store_true", help="continue the run in --out")
    parser.add_argument("--seed", type=int, help="override the preset's seed")
    parser.add_argument(
        "--init-from",
        help="start from this checkpoint's architecture and weights (a fine-tune; new "
        "training-only state heads start fresh) instead of a fresh preset model",
    )
    parser.add_argument(
        "--stop-after", type=int, help="stop (state saved) after this many steps in this call"
    )
    parser.add_argument(
        "--threads", type=int, default=2, help="torch CPU threads (shared by a host's processes)"
    )
    parser.add_argument("--json", action="store_true", help="print the run summary as JSON")


def run(args: argparse.Namespace) -> int:
    import dataclasses

    import torch

    from vla_wm_ros.config.loader import ConfigError, load_yaml
    from vla_wm_ros.data.layout import DatasetError
    from vla_wm_ros.training import distributed
    from vla_wm_ros.training.config import TrainConfig, load_train_preset
    from vla_wm_ros.training.loop import Interrupted
    from vla_wm_ros.training.trainer import TrainError, train

    local_processes = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    torch.set_num_threads(max(1, args.threads // local_processes))
    try:
        cfg = load_yaml(TrainConfig, args.config) if args.config else load_train_preset(args.preset)
        if args.seed is not None:
            cfg = dataclasses.replace(cfg, seed=args.seed)
        if args.init_from:
            cfg = dataclasses.replace(cfg, init_from=args.init_from)
        stages = [s for s in args.stages.split(",") if s]
        with distributed.process_group("cpu"):
            summary = train(args.data, args.out, cfg, stages, args.resume, args.stop_after)
            main = distributed.is_main()
    except Interrupted as exc:
        print(f"train: {exc}; continue with --resume", file=sys.stderr)
        return 3
    except (ConfigError, DatasetError, TrainError, ValueError) as exc:
        print(f"train: {exc}", file=sys.stderr)
        return 2
    if not main:
        return 0
    if args.json:
        print(json.dumps(summary))
    else:
        for stage, info in summary["stages"].items():
            print(f"{stage}: {info['steps']} steps in {info['wall_s']} s")
    return 0
