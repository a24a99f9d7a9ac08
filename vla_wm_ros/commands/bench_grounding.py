"""`vla-wm bench grounding`: per-instruction grounding latency of a backend (p50/p99)."""

from __future__ import annotations

import argparse
import platform
import sys

NAME = ("bench", "grounding")
HELP = "grounding latency per instruction for a backend (sentence | vlm)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from vla_wm_ros.commands.ground import add_suite_arguments

    add_suite_arguments(parser)
    parser.add_argument("--calls", type=int, default=100, help="timed ground() calls")
    parser.add_argument("--warmup", type=int, default=5, help="untimed calls first")


def run(args: argparse.Namespace) -> int:
    import time

    from tqdm import tqdm

    from vla_wm_ros.bench.report import print_report
    from vla_wm_ros.commands.ground import backend_report, build_from_arguments
    from vla_wm_ros.evaluation.grounding import render_scenes, scene_items
    from vla_wm_ros.language.suite import load_suite
    from vla_wm_ros.latency import latency_summary

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
        **backend_report(args, grounder),
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
