"""`vla-wm ground "TEXT"`: which task an instruction means, or why it is refused.

Also holds the grounding-backend arguments the `eval grounding` and `bench grounding`
commands share.
"""

from __future__ import annotations

import argparse
import json

NAME = ("ground",)
HELP = "ground an instruction to a task of the suite (sentence encoder, or a local VLM + image)"


def add_backend_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backend", choices=("sentence", "vlm"), default="sentence")
    parser.add_argument("--vlm-dir", help="local transformers VLM directory (backend vlm)")
    parser.add_argument("--vlm-device", default="cpu", help="cpu | cuda | cuda:N")
    parser.add_argument("--vlm-dtype", default="float32", help="float32 | bfloat16 | float16")
    parser.add_argument(
        "--encoder-dir", help="goal-space sentence encoder; default: the shipped all-MiniLM-L6-v2"
    )
    parser.add_argument(
        "--model-dir",
        help="world-model checkpoint whose goal space the encoder must match; "
        "default: models/world_model",
    )


def build_from_arguments(args: argparse.Namespace):
    """The grounder the backend arguments describe, checked against the checkpoint."""
    from vla_wm_ros.control.model_runtime import resolve_model_dir
    from vla_wm_ros.language.backends import GroundingConfig, build_grounder
    from vla_wm_ros.language.encoder import SentenceEncoderConfig
    from vla_wm_ros.language.grounding import GrounderConfig
    from vla_wm_ros.language.vlm import VLMConfig

    config = GroundingConfig(
        backend=args.backend,
        sentence=GrounderConfig(encoder=SentenceEncoderConfig(model_dir=args.encoder_dir)),
        vlm=VLMConfig(model_dir=args.vlm_dir, device=args.vlm_device, dtype=args.vlm_dtype),
    )
    return build_grounder(config, resolve_model_dir(args.model_dir or ""))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("text", help="the instruction")
    parser.add_argument("--image", help="camera image file (PNG/JPEG) for backend vlm")
    add_backend_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def run(args: argparse.Namespace) -> int:
    image = None
    if args.image:
        import imageio.v3 as iio

        image = iio.imread(args.image)[..., :3]
    result = build_from_arguments(args).ground(args.text, image).to_json()
    if args.json:
        print(json.dumps(result))
    else:
        verdict = "accepted" if result["accepted"] else "refused"
        print(
            f"{verdict}: {result['task']} (confidence {result['confidence']:.2f}): "
            f"{result['reason']}"
        )
    return 0 if result["accepted"] else 1
