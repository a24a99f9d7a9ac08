"""`vla-wm dagger`: refine a checkpoint's actor on expert-relabelled rollouts of itself.

Under torchrun the rollouts and actor updates are shared by the processes (training/
dagger.py); rank 0 saves, records (--record) and prints.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

NAME = ("dagger",)
HELP = "DAgger rounds in the simulator on a trained checkpoint's actor (world model frozen)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ckpt", required=True, help="checkpoint directory to start from")
    parser.add_argument("--data", required=True, help="dataset with the expert demonstrations")
    parser.add_argument("--out", required=True, help="directory for the refined checkpoint")
    parser.add_argument("--tasks", default="mt10", help="comma-separated task names, or mt10")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--episodes", type=int, default=6, help="rollouts per task and round")
    parser.add_argument("--max-steps", type=int, default=120)
    parser.add_argument("--beta", type=float, default=0.5, help="expert execution prob, round 0")
    parser.add_argument("--bc-steps", type=int, default=800, help="actor updates per round")
    parser.add_argument("--lr", type=float, default=3e-4, help="actor learning rate")
    parser.add_argument(
        "--save-rounds", action="store_true", help="also save each round's weights as OUT/round-N"
    )
    parser.add_argument(
        "--record",
        metavar="DIR",
        help="also append every round's rollouts to the dataset DIR (created if absent; "
        "policy 'dagger', executed actions, simulator rewards) for train-value / train",
    )
    parser.add_argument(
        "--actor-size",
        metavar="HIDDEN,LAYERS",
        help="start from an untrained actor of this width and depth (e.g. 512,3) instead of "
        "the checkpoint's; the rest is kept. Pair with --beta 1 so round 0 clones the expert",
    )
    parser.add_argument("--seed", type=int, default=0, help="sampling and placements (0-1999)")
    parser.add_argument("--split-seed", type=int, default=0, help="the training run's seed")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def _actor_size(text: str | None) -> tuple[int, int] | None:
    """--actor-size "HIDDEN,LAYERS" as two positive ints (ValueError naming the flag)."""
    if text is None:
        return None
    parts = text.split(",")
    if len(parts) != 2 or not all(p.strip().isdigit() and int(p) > 0 for p in parts):
        raise ValueError(f"--actor-size: expected HIDDEN,LAYERS (two positive ints), got {text!r}")
    return int(parts[0]), int(parts[1])


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    import torch

    from vla_wm_ros.config.loader import ConfigError
    from vla_wm_ros.data.layout import DatasetError
    from vla_wm_ros.data.loader import default_embedder
    from vla_wm_ros.language.suite import load_suite
    from vla_wm_ros.models.checkpoint import (
        CheckpointError,
        load_checkpoint,
        read_meta,
        save_checkpoint,
    )
    from vla_wm_ros.sim.observation import read_observation, simulator_observation
    from vla_wm_ros.training import distributed
    from vla_wm_ros.training.dagger import DaggerConfig, dagger
    from vla_wm_ros.training.init_model import fresh_actor

    local_processes = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    torch.set_num_threads(max(1, args.threads // local_processes))
    names = load_suite().names
    tasks = names if args.tasks == "mt10" else [t for t in args.tasks.split(",") if t]
    unknown = sorted(set(tasks) - set(names))
    if unknown:
        print(f"dagger: unknown task(s) {', '.join(unknown)}", file=sys.stderr)
        return 2
    cfg = DaggerConfig(
        rounds=args.rounds,
        episodes_per_task=args.episodes,
        max_steps=args.max_steps,
        beta=args.beta,
        bc_steps=args.bc_steps,
        lr=args.lr,
        seed=args.seed,
    )
    out = Path(args.out)
    try:
        size = _actor_size(args.actor_size)
        wm = load_checkpoint(args.ckpt)
        if size is not None:
            torch.manual_seed(args.seed)  # the same fresh actor for the same --seed
            wm = fresh_actor(wm, *size)
        meta = read_meta(args.ckpt)
        # Roll out in the rendering the checkpoint's data had (its meta.yaml observation).
        observation, warnings = simulator_observation(read_observation(args.ckpt), args.ckpt)
        for warning in warnings:
            print(f"dagger: warning: {warning}", file=sys.stderr)
        earlier = meta.pop("dagger_runs", [])
        rounds: list[dict] = []

        def save(where: Path, result: dict) -> None:
            runs = [*earlier, dict(result, tasks=tasks, started_from=args.ckpt)]
            save_checkpoint(wm, where, extra=dict(meta, dagger_runs=runs))  # oldest run first
            for extra in Path(args.ckpt).glob("dynamics_*.safetensors"):
                (where / extra.name).write_bytes(extra.read_bytes())

        def round_done(row: dict) -> None:
            rounds.append(row)
            if args.save_rounds and distributed.is_main():
                done = {"rounds": rounds, "config": cfg.__dict__}
                save(out / f"round-{row['round']}", dict(done, observation=observation.to_meta()))

        with distributed.process_group("cpu"):
            result = dagger(
                wm,
                args.data,
                tasks,
                cfg,
                default_embedder(),
                split_seed=args.split_seed,
                on_round=round_done,
                record=args.record,
                observation=observation,
            )
            main = distributed.is_main()
    except (CheckpointError, ConfigError, DatasetError, ValueError) as exc:
        print(f"dagger: {exc}", file=sys.stderr)
        return 2
    if not main:
        return 0
    save(out, result)
    if args.json:
        print(json.dumps(result))
    else:
        for row in result["rounds"]:
            print(json.dumps(row))
    return 0
