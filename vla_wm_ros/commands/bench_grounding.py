"""`vla-wm bench grounding`: per-instruction grounding latency of a backend (p50/p99)."""

from __future__ import annotations

import argparse
import platform
import sys

NAME = ("bench", "grounding")
HELP = "grounding latency per instruction for a backend (sentence | vlm)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from vla_wm_ros.commands.ground import add_backend_arguments

    add_backend_arguments(parser)
    parser.add_argument("--calls", type=int, default=100, help="timed ground() calls")
    parser.add_argument("--warmup", type=int, default=5, help="untimed calls first")
    parser.add_argument("--image-size", type=int, default=224, help="rendered scene size, pixels")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def run(args: argparse.Namespace) -> int:
    import time

    from tqdm import tqdm

    from vla_wm_ros.bench.report import print_report
    from vla_wm_ros.bench.stats import latency_summary
    from vla_wm_ros.commands.ground import build_from_arguments
    from vla_wm_ros.evaluation.grounding import render_scenes, scene_items
    from vla_wm_ros.language.suite import load_suite

    suite = load_suite()
    items = scene_items(suite)
    frames = render_scenes(sorted({scene for _, scene, _ in items}), args.image_size, 0, True)
    start = time.perf_counter()
    grounder = build_from_arguments(args)
    load_s = time.perf_counter() - start
    samples = []
    for i in tqdm(range(args.warmup + args.calls), desc="bench grounding", file=sys.stderr):
        text, scene, _ = items[i % len(items)]
        start = time.perf_counter()
        grounder.ground(text, frames[scene])
        if i >= args.warmup:
            samples.append((time.perf_counter() - start) * 1e3)
    report = {
        "backend": args.backend,
        "model": str(args.vlm_dir) if args.backend == "vlm" else grounder.encoder.model_dir.name,
        "device": args.vlm_device if args.backend == "vlm" else "cpu",
        "dtype": args.vlm_dtype if args.backend == "vlm" else "float32",
        "image_size": args.image_size,
        "cpu": platform.processor() or platform.machine(),
        "load_s": round(load_s, 3),
        "latency_ms": latency_summary(samples),
    }
    lat = report["latency_ms"]
    return print_report(
        report,
        args.json,
        [
            f"{report['backend']} ({report['model']}, {report['device']}, {report['dtype']}): "
            f"load {load_s:.2f} s, p50 {lat['p50_ms']:.1f} ms, p99 {lat['p99_ms']:.1f} ms"
        ],
    )
