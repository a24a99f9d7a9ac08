"""`vla-wm bench train`: training frames/s per stage and variant, and where stage 2's time goes.

Interleaves the variants' steps round robin (see `bench.train_step`), so the speed-up of
one run is meaningful on a shared machine even when the absolute figures are not.
"""

from __future__ import annotations

import argparse
import json
import sys

NAME = ("bench", "train")
HELP = "training throughput: frames/s per stage and speed variant, stage-2 time split, profile"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, help="dataset directory (vla-wm collect)")
    parser.add_argument("--preset", default="default", help="training preset: tiny, default, long")
    parser.add_argument("--config", help="training config YAML (instead of --preset)")
    parser.add_argument(
        "--stages",
        default="world_model",
        help="comma-separated: world_model, temporal, dynamics, actor_critic_bc, actor_critic_ac",
    )
    parser.add_argument(
        "--variants",
        default="baseline,preload,channels_last,bf16",
        help="comma-separated: baseline, preload, channels_last, bf16, compiled, trainer",
    )
    parser.add_argument("--threads", default="1", help="comma-separated torch thread counts")
    parser.add_argument("--steps", type=int, default=5, help="timed steps per case")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps per case first")
    parser.add_argument("--profile", action="store_true", help="top ops of the trainer's step")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def run(args: argparse.Namespace) -> int:
    import torch
    from tqdm import tqdm

    from vla_wm_ros.bench.machine import machine_info
    from vla_wm_ros.bench.train_step import build_cases, profile_world_model, run_cases, summarise
    from vla_wm_ros.config.loader import ConfigError, load_yaml
    from vla_wm_ros.data.layout import DatasetError
    from vla_wm_ros.data.loader import default_embedder
    from vla_wm_ros.training.config import TrainConfig, load_train_preset
    from vla_wm_ros.training.speed import native_bf16

    stages = [s for s in args.stages.split(",") if s]
    variants = [v for v in args.variants.split(",") if v]
    threads = [int(t) for t in args.threads.split(",") if t]
    try:
        cfg = load_yaml(TrainConfig, args.config) if args.config else load_train_preset(args.preset)
        embedder = default_embedder()
        cases = build_cases(args.data, cfg, stages, variants, threads, embedder)
        total = len(cases) * (args.steps + args.warmup)
        with tqdm(total=total, desc="bench train", unit="step", file=sys.stderr) as bar:
            run_cases(cases, args.steps, args.warmup, bar)
        result = {
            "what": "optimiser steps of `vla-wm train`, variants interleaved round robin",
            "preset": args.config or args.preset,
            "data": args.data,
            "native_bf16": native_bf16(),
            "machine": machine_info(),
            "steps": args.steps,
            "stages": summarise(cases),
        }
        if args.profile:
            torch.set_num_threads(threads[0])
            result["profile_world_model"] = profile_world_model(args.data, cfg, embedder)
    except (ConfigError, DatasetError, ValueError) as exc:
        print(f"bench train: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result))
        return 0
    for stage, entry in result["stages"].items():
        print(f"{stage}:")
        for v in entry["variants"]:
            shares = ", ".join(f"{k} {s:.0%}" for k, s in v["phase_share"].items())
            speedup = v.get("speedup_vs_baseline")
            ratio = f"  x{speedup:.2f} vs baseline" if speedup is not None else ""
            print(
                f"  {v['variant']:<14} threads {v['threads']}: {v['frames_per_s']:8.0f} frames/s "
                f"({v['step_ms_p50']:.0f} ms/step; {shares}){ratio}"
            )
    for row in result.get("profile_world_model", []):
        print(f"  {row['op']:<40} {row['self_ms_per_step']:8.1f} ms/step {row['share']:6.1%}")
    return 0
