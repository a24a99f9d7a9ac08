"""`vla-wm bag export`: dataset episodes -> rosbag2 folders that ROS 2 tools replay."""

from __future__ import annotations

import argparse
import json
import sys

NAME = ("bag", "export")
HELP = (
    "write dataset episodes as rosbag2 folders (metadata.yaml + MCAP or sqlite3): camera, "
    "camera_info, joint states, action, instruction, with offered QoS"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from vla_wm_ros.commands.bag_options import add_topic_arguments
    from vla_wm_ros.data.bag_writer import CLOCKS, IMAGE_FORMATS

    parser.add_argument("--data", required=True, help="dataset directory")
    parser.add_argument(
        "--episodes", default="0", help="episode indices, comma-separated, or 'all'"
    )
    parser.add_argument(
        "--out",
        required=True,
        help="bag folder (one episode), or a folder of episode_NNNNNN bags (several)",
    )
    parser.add_argument("--storage", choices=("mcap", "sqlite3"), default="mcap")
    parser.add_argument(
        "--image-format",
        choices=IMAGE_FORMATS,
        default="raw",
        help="raw: sensor_msgs/Image rgb8; png/jpeg: sensor_msgs/CompressedImage",
    )
    parser.add_argument(
        "--clock",
        choices=CLOCKS,
        default="real",
        help="header stamps in real time, or simulated time from 0 with /clock",
    )
    parser.add_argument(
        "--start-time", type=float, help="recording start, Unix seconds (default: now)"
    )
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    add_topic_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from tqdm import tqdm

    from vla_wm_ros.commands.bag_options import topics_from_args
    from vla_wm_ros.data.bag_writer import export_episode
    from vla_wm_ros.data.layout import DatasetError
    from vla_wm_ros.data.reader import EpisodeDataset

    topics = topics_from_args(args)
    out = Path(args.out)
    written = []
    try:
        dataset = EpisodeDataset(args.data)
        count = dataset.num_episodes
        if args.episodes == "all":
            indices = list(range(count))
        else:
            try:
                indices = [int(v) for v in args.episodes.split(",") if v]
            except ValueError:
                raise DatasetError(
                    f"--episodes: not a list of integers: {args.episodes!r}"
                ) from None
        bad = [i for i in indices if not 0 <= i < count]
        if bad or not indices:
            raise DatasetError(f"{args.data}: no episode(s) {bad or indices}; it has {count}")
        start_ns = None if args.start_time is None else int(args.start_time * 1e9)
        for i in tqdm(indices, desc="bag export", unit="episode", file=sys.stderr):
            target = out if len(indices) == 1 else out / f"episode_{i:06d}"
            episode = dataset.episode(i)
            export_episode(
                episode,
                target,
                dataset.spec,
                topics,
                storage=args.storage,
                image_format=args.image_format,
                clock=args.clock,
                start_ns=start_ns,
            )
            written.append({"episode": i, "bag": str(target), "frames": episode.length})
    except DatasetError as exc:
        print(f"bag export: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({"bags": written, "storage": args.storage, "clock": args.clock}))
    else:
        for item in written:
            print(f"wrote {item['bag']} (episode {item['episode']}, {item['frames']} frames)")
    return 0
