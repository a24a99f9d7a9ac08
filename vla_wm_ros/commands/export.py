"""`vla-wm export`: build a checkpoint's control-loop units for one inference backend.

Writes the vision encoder, the RSSM observe and imagine steps and the reward, value and
actor heads (deploy/units.py) as the backend's artifacts into the engine cache
(`<out>/<backend>-<device>-<precision>-<key>/` with its manifest `engine.yaml`),
checking every unit against eager PyTorch first; an existing build for the same key is
reused unless --force. The nodes find it when `engine_cache` points at the same --out
(by default both use `<ckpt>/engines`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

NAME = ("export",)
HELP = "export the control-loop units (encoder, RSSM steps, heads) for a backend"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from vla_wm_ros.deploy import BACKEND_CHOICES, PRECISION_CHOICES

    parser.add_argument("--ckpt", required=True, help="world-model checkpoint directory")
    parser.add_argument("--backend", required=True, choices=BACKEND_CHOICES)
    parser.add_argument("--out", default="", help="engine cache folder (default: <ckpt>/engines)")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--precision", default="fp32", choices=PRECISION_CHOICES)
    parser.add_argument("--force", action="store_true", help="rebuild even when cached")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def run(args: argparse.Namespace) -> int:
    import torch

    from vla_wm_ros.deploy.backends import BackendUnavailable
    from vla_wm_ros.deploy.deployed import TOLERANCE, ParityError, deploy
    from vla_wm_ros.models.checkpoint import CheckpointError, load_checkpoint

    if args.backend == "eager":
        print("vla-wm export: eager runs the checkpoint as is: nothing to export", file=sys.stderr)
        return 2
    ckpt = Path(args.ckpt)
    try:
        world_model = load_checkpoint(ckpt, torch.device(args.device))
        print(f"{args.backend} units of {ckpt} ...", file=sys.stderr, flush=True)
        deployed = deploy(
            world_model,
            ckpt,
            args.backend,
            args.device,
            args.precision,
            Path(args.out) if args.out else None,
            args.force,
        )
    except (BackendUnavailable, CheckpointError, ParityError, RuntimeError) as exc:
        print(f"vla-wm export: {exc}", file=sys.stderr)
        return 2
    rtol, atol = TOLERANCE[args.precision]
    report = {
        "checkpoint": str(ckpt),
        "backend": deployed.backend,
        "device": deployed.device,
        "precision": deployed.precision,
        "engine_dir": str(deployed.engine_dir) if deployed.engine_dir else None,
        "cache_hit": deployed.cache_hit,
        "build_s": deployed.build_s,
        "parity_max_abs_error": deployed.parity,
        "tolerance": f"max|out - eager| <= {atol:g} + {rtol:g} * max|eager|",
    }
    if args.json:
        print(json.dumps(report))
    else:
        where = report["engine_dir"] or "in memory (torch.compile; Inductor caches its code)"
        built = f"built in {deployed.build_s:.1f} s"
        state = "found in the cache, not rebuilt" if deployed.cache_hit else built
        print(f"{deployed.backend} ({deployed.device}, {deployed.precision}): {where} — {state}")
        for unit, err in deployed.parity.items():
            print(f"  {unit:8s} max |out - eager| = {err:.2e}")
        print(f"  tolerance: {report['tolerance']}")
    return 0
