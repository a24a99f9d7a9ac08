"""`vla-wm eval world-model`: prediction errors on held-out episodes vs naive baselines."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

NAME = ("eval", "world-model")
HELP = "reconstruction, open-loop k-step errors (obs, latent, reward) vs copy-last and mean"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ckpt", required=True, help="checkpoint directory (config.yaml, ...)")
    parser.add_argument("--data", required=True, help="dataset directory")
    parser.add_argument("--batches", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--context", type=int, default=10, help="filtered steps before imagining")
    parser.add_argument("--horizons", default="1,5,10,20,50")
    parser.add_argument("--val-fraction", type=float, default=0.1, help="as used in training")
    parser.add_argument("--seed", type=int, default=0, help="which windows are drawn")
    parser.add_argument(
        "--split-seed", type=int, default=0, help="the training run's seed (its val split)"
    )
    parser.add_argument(
        "--episodes",
        help="comma-separated episode indices: evaluate on this subset of the held-out split",
    )
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--plots", help="directory for the PNGs (default: the checkpoint's)")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def run(args: argparse.Namespace) -> int:
    import torch

    from vla_wm_ros.data.layout import DatasetError
    from vla_wm_ros.data.loader import SequenceLoader
    from vla_wm_ros.evaluation.world_model import evaluate_world_model, frame_strip, plot_errors
    from vla_wm_ros.models.checkpoint import CheckpointError, load_checkpoint

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    try:
        wm = load_checkpoint(args.ckpt)
        horizons = tuple(int(k) for k in args.horizons.split(","))
        episodes = [int(e) for e in args.episodes.split(",")] if args.episodes else None
        result = evaluate_world_model(
            wm,
            args.data,
            args.batches,
            args.batch_size,
            args.context,
            horizons,
            args.seed,
            args.val_fraction,
            split_seed=args.split_seed,
            episodes=episodes,
        )
        plots = Path(args.plots or args.ckpt)
        plots.mkdir(parents=True, exist_ok=True)
        plot_errors(result, plots / "open_loop_error.png")
        loader = SequenceLoader(
            args.data,
            1,
            args.context + 16,
            "val",
            args.seed,
            args.val_fraction,
            split_seed=args.split_seed,
            episodes=episodes,
        )
        frame_strip(wm, loader.sample(), args.context, 12, plots / "real_vs_imagined.png")
        result["plots"] = [str(plots / "open_loop_error.png"), str(plots / "real_vs_imagined.png")]
    except (CheckpointError, DatasetError) as exc:
        print(f"eval world-model: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result))
    else:
        rec = result["reconstruction"]
        print(f"reconstruction MSE {rec['mse']:.5f} (PSNR {rec['psnr_db']:.1f} dB)")
        r = result["reward"]
        print(
            f"reward head (filtered, {r['steps']} steps): MSE {r['mse']:.4f} (mean-reward "
            f"baseline {r['baseline_mean_mse']:.4f}), MAE {r['mae']:.4f}, "
            f"mean {r['predicted_mean']:.3f} vs {r['true_mean']:.3f}"
        )
        print(
            "k    obs model  copy-last  mean     | latent model  copy-last  mean"
            "   | reward model  copy-last  mean"
        )
        for k, row in result["open_loop"].items():
            o, z, w = row["obs_mse"], row["latent_mse"], row["reward_mse"]
            print(
                f"{k:<4} {o['model']:.5f}  {o['copy_last']:.5f}   {o['mean']:.5f} "
                f" | {z['model']:.4f}  {z['copy_last']:.4f}  {z['mean']:.4f}"
                f"  | {w['model']:.4f}  {w['copy_last']:.4f}  {w['mean']:.4f}"
            )
    return 0
