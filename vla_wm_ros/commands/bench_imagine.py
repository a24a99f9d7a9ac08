"""`vla-wm bench imagine`: imagined transitions/s at batch 1000 against this CPU's roofline.

Measures the seed-sized RSSM and the default CPU config, each over the thread counts and
execution paths asked for (module, ImagineKernel, torch.compile), and reports every
variant plus the best one per model. Figures on a shared machine are noisy: compare
ratios from one run.
"""

from __future__ import annotations

import argparse
import sys

NAME = ("bench", "imagine")
HELP = "imagined transitions/s (imagine_step + reward) at batch 1000, with FLOPs and roofline"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--presets", default="seed,default", help="comma-separated presets")
    parser.add_argument("--batch", type=int, default=1000, help="imagined states per step")
    parser.add_argument("--threads", default="1,2", help="comma-separated torch thread counts")
    parser.add_argument(
        "--paths",
        default="module,kernel,compiled",
        help="comma-separated execution paths: module, kernel (out= buffers), compiled",
    )
    parser.add_argument("--seconds", type=float, default=2.0, help="timing window per variant")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from vla_wm_ros.bench.imagine import PATHS, measure, rssm_shapes
    from vla_wm_ros.bench.machine import machine_info
    from vla_wm_ros.bench.report import print_report
    from vla_wm_ros.config.model import load_preset

    presets = [p for p in args.presets.split(",") if p]
    threads = [int(t) for t in args.threads.split(",") if t]
    paths = [p for p in args.paths.split(",") if p]
    unknown = sorted(set(paths) - set(PATHS))
    if unknown:
        print(f"--paths: unknown {', '.join(unknown)}; valid: {', '.join(PATHS)}", file=sys.stderr)
        return 2
    variants = [(p, t, x) for p in presets for t in threads for x in paths]
    models: dict[str, dict] = {}
    for preset, n_threads, path in tqdm(variants, desc="bench imagine", file=sys.stderr):
        cfg = load_preset(preset)
        entry = models.setdefault(preset, {"shapes": rssm_shapes(cfg), "variants": []})
        entry["variants"].append(measure(cfg, args.batch, n_threads, path, seconds=args.seconds))
    for entry in models.values():
        best = max(entry["variants"], key=lambda v: v["transitions_per_s"])
        entry["best"] = {
            k: best[k]
            for k in (
                "threads",
                "path",
                "transitions_per_s",
                "flops_per_transition",
                "roofline_fraction",
                "roofline_fraction_best_step",
                "gemm_flops_per_s",
            )
        }
    result = {
        "batch": args.batch,
        "what": "imagine_step + goal-conditioned reward head (goal term cached), fp32, CPU",
        "machine": machine_info(),
        "models": models,
    }
    return print_report(
        result,
        args.json,
        (
            f"{preset}: {b['transitions_per_s']:,.0f} transitions/s, "
            f"{b['flops_per_transition'] / 1e6:.3f} MFLOP/transition, "
            f"roofline {b['roofline_fraction']:.2f} (threads {b['threads']}, path {b['path']})"
            for preset, b in ((p, e["best"]) for p, e in models.items())
        ),
    )
