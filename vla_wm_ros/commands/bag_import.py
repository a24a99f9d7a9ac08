"""`vla-wm bag import`: rosbag2 recordings (one episode each) -> a dataset."""

from __future__ import annotations

import argparse
import json
import sys

NAME = ("bag", "import")
HELP = (
    "convert rosbag2 bags (folders with metadata.yaml, sqlite3 or MCAP; or single "
    ".mcap/.db3 files), one episode each, into a dataset"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from vla_wm_ros.commands.bag_options import add_topic_arguments

    parser.add_argument("bags", nargs="+", help="rosbag2 folders or .mcap/.db3 files")
    parser.add_argument("--out", required=True, help="dataset directory (created)")
    parser.add_argument("--append", action="store_true", help="add to an existing dataset")
    parser.add_argument(
        "--config", help="YAML with topics, joints, action_names, robot_type, image_size, ..."
    )
    parser.add_argument("--joints", help="state joints by name, comma-separated, in order")
    parser.add_argument("--action-names", help="action element names, comma-separated")
    parser.add_argument("--robot-type", help="robot type stored in meta/info.json")
    parser.add_argument(
        "--image-size", type=int, help="square side images are cropped and resized to (0: keep)"
    )
    parser.add_argument(
        "--fps", type=float, help="expected camera rate: checked against the measured one"
    )
    parser.add_argument("--stamps", choices=("header", "log"), help="header or recording time")
    parser.add_argument("--task", help="task name stored with each episode")
    parser.add_argument("--instruction", help="instead of the bag's instruction topic")
    parser.add_argument("--policy", help="who acted (default: as exported, else expert)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    add_topic_arguments(parser)


def _config(args: argparse.Namespace):
    import dataclasses

    from vla_wm_ros.commands.bag_options import topics_from_args
    from vla_wm_ros.config.loader import load_yaml
    from vla_wm_ros.data.bag_config import BagImportConfig

    cfg = load_yaml(BagImportConfig, args.config) if args.config else BagImportConfig()
    given = {
        "joints": args.joints.split(",") if args.joints else None,
        "action_names": args.action_names.split(",") if args.action_names else None,
        "robot_type": args.robot_type,
        "image_size": args.image_size,
        "fps": args.fps,
        "stamps": args.stamps,
        "task": args.task,
        "instruction": args.instruction,
        "policy": args.policy,
    }
    cfg = dataclasses.replace(
        cfg,
        topics=topics_from_args(args, cfg.topics),
        **{k: v for k, v in given.items() if v is not None},
    )
    cfg.validate()
    return cfg


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from vla_wm_ros.data.bag_reader import check_rate, dataset_spec, read_bag
    from vla_wm_ros.data.layout import DatasetError
    from vla_wm_ros.data.writer import DatasetWriter

    cfg = _config(args)
    measured = []
    frames = 0
    try:
        first = read_bag(args.bags[0], cfg)
        spec = dataset_spec(first, cfg)
        with DatasetWriter(args.out, spec, append=args.append) as writer:
            for path in tqdm(args.bags, desc="bag import", unit="bag", file=sys.stderr):
                recording = first if path == args.bags[0] else read_bag(path, cfg)
                check_rate(recording.path, recording.fps, writer.spec.fps, cfg.fps_tolerance)
                for key in ("state_names", "action_names"):
                    if getattr(recording, key) != getattr(writer.spec, key):
                        raise DatasetError(
                            f"{path}: {key} {getattr(recording, key)} differ from the "
                            f"dataset's {getattr(writer.spec, key)}; select them by name "
                            "(--joints / --action-names)"
                        )
                try:
                    writer.add(recording.episode)
                except ValueError as exc:  # names or shapes differ from the first bag's
                    raise DatasetError(f"{path}: {exc}") from None
                measured.append(round(recording.fps, 3))
                frames += recording.episode.length
    except DatasetError as exc:
        print(f"bag import: {exc}", file=sys.stderr)
        return 2
    summary = {
        "out": args.out,
        "episodes": len(args.bags),
        "frames": frames,
        "fps": spec.fps,
        "measured_fps": measured,
        "image_shape": list(spec.image_shape),
        "state_names": spec.state_names,
        "action_names": spec.action_names,
        "robot_type": spec.robot_type,
    }
    if args.json:
        print(json.dumps(summary))
    else:
        print(
            f"wrote {len(args.bags)} episodes ({frames} frames, {spec.fps:g} Hz, "
            f"{spec.image_shape[0]}x{spec.image_shape[1]}) to {args.out}"
        )
    return 0
