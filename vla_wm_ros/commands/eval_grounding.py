"""`vla-wm eval grounding`: grounding accuracy of a backend, text-only and image-dependent."""

from __future__ import annotations

import argparse
import json

NAME = ("eval", "grounding")
HELP = "grounding accuracy per backend on the suite's text-only and scene instructions"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from vla_wm_ros.commands.ground import add_backend_arguments

    add_backend_arguments(parser)
    parser.add_argument("--image-size", type=int, default=224, help="rendered scene size, pixels")
    parser.add_argument("--seed", type=int, default=0, help="simulator placement of the scenes")
    parser.add_argument("--folds", type=int, default=5, help="cross-validation folds (sentence)")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def run(args: argparse.Namespace) -> int:
    from vla_wm_ros.commands.ground import build_from_arguments
    from vla_wm_ros.evaluation.grounding import evaluate_grounding, render_scenes
    from vla_wm_ros.language.suite import load_suite

    suite = load_suite()
    frames = render_scenes(suite.names, args.image_size, args.seed, progress=True)
    grounder = build_from_arguments(args)
    report = {
        "backend": args.backend,
        "model": str(args.vlm_dir) if args.backend == "vlm" else grounder.encoder.model_dir.name,
        "device": args.vlm_device if args.backend == "vlm" else "cpu",
        "dtype": args.vlm_dtype if args.backend == "vlm" else "float32",
        "image_size": args.image_size,
        "seed": args.seed,
        **evaluate_grounding(grounder, suite, frames, args.folds, progress=True),
    }
    if args.json:
        print(json.dumps(report))
    else:
        text, scene, lat = report["text_only"], report["image_dependent"], report["latency_ms"]
        print(f"backend {args.backend} ({report['model']}, {report['device']}, {report['dtype']})")
        print(
            f"  text-only      : {text['accuracy']:.3f} of {text['instructions']} "
            f"({text['method']}); negatives refused {text['negative_rejection']:.3f}"
        )
        print(f"  image-dependent: {scene['accuracy']:.3f} of {scene['instructions']}")
        print(f"  latency        : p50 {lat['p50_ms']:.1f} ms, p99 {lat['p99_ms']:.1f} ms")
    return 0
