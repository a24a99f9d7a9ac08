"""`vla-wm data import`: a LeRobot dataset written by any tool -> our dataset format.

Training reads LeRobot datasets directly when their images are square at the model's
size; this command makes any other one fit: it picks one camera (also from mp4 videos),
centre-crops and resizes its frames, and writes a dataset that can be appended to.
"""

from __future__ import annotations

import argparse
import json
import sys

NAME = ("data", "import")
HELP = "copy a LeRobot dataset (v3.0 or v2.1) into our format, one camera resized to the model"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", help="LeRobot dataset directory")
    parser.add_argument("--out", required=True, help="dataset directory (created)")
    parser.add_argument("--camera", help="image or video feature to keep (default: the first)")
    parser.add_argument(
        "--image-size", type=int, default=64, help="square side of the stored frames"
    )
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")


def run(args: argparse.Namespace) -> int:
    import dataclasses

    import numpy as np
    from tqdm import tqdm

    from vla_wm_ros.data.images import square_resize
    from vla_wm_ros.data.layout import DatasetError
    from vla_wm_ros.data.reader import EpisodeDataset
    from vla_wm_ros.data.writer import DatasetWriter

    if args.image_size < 8:
        print(f"data import: --image-size must be >= 8, got {args.image_size}", file=sys.stderr)
        return 2
    size = args.image_size
    try:
        source = EpisodeDataset(args.source, camera=args.camera)
        spec = dataclasses.replace(
            source.spec,
            image_shape=(size, size, 3),
            camera=source.camera.key,
            extra=source.spec.extra | {"imported_from": str(args.source)},
        )
        with DatasetWriter(args.out, spec) as writer:
            for i in tqdm(range(source.num_episodes), desc="data import", file=sys.stderr):
                episode = source.episode(i)
                frames = [square_resize(f, size)[0] for f in episode.images]
                writer.add(dataclasses.replace(episode, images=np.stack(frames)))
    except DatasetError as exc:
        print(f"data import: {exc}", file=sys.stderr)
        return 2
    summary = {
        "out": args.out,
        "episodes": source.num_episodes,
        "frames": source.num_frames,
        "camera": source.camera.key,
        "fps": spec.fps,
    }
    print(json.dumps(summary) if args.json else f"wrote {summary}")
    return 0
