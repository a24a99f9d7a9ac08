"""`vla-wm bag import`: ROS 2 MCAP bags recorded on a robot -> a dataset."""

from __future__ import annotations

import argparse
import sys

NAME = ("bag", "import")
HELP = "convert MCAP bags (one episode each) into a dataset; topic names by option"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from vla_wm_ros.data.bags import add_topic_arguments

    parser.add_argument("bags", nargs="+", help="MCAP files, one episode each")
    parser.add_argument("--out", required=True, help="dataset directory (created)")
    parser.add_argument("--task", default="", help="task name stored with each episode")
    parser.add_argument("--instruction", default="", help="instead of the bag's own")
    parser.add_argument("--fps", type=float, default=10.0, help="nominal rate of the data")
    add_topic_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from vla_wm_ros.data.bags import import_bag, topics_from_args
    from vla_wm_ros.data.layout import DatasetError
    from vla_wm_ros.data.spec import DatasetSpec
    from vla_wm_ros.data.writer import DatasetWriter

    topics = topics_from_args(args)
    try:
        episodes = [import_bag(p, topics, args.task, args.instruction) for p in args.bags]
        first = episodes[0]
        spec = DatasetSpec(
            fps=args.fps,
            image_shape=tuple(first.images.shape[1:]),
            state_names=[f"state_{i}" for i in range(first.state.shape[1])],
            action_names=[f"action_{i}" for i in range(first.action.shape[1])],
            action_low=[-1.0] * first.action.shape[1],
            action_high=[1.0] * first.action.shape[1],
            source="mcap",
        )
        with DatasetWriter(args.out, spec) as writer:
            for path, episode in zip(args.bags, episodes, strict=True):
                try:
                    writer.add(episode)
                except ValueError as exc:  # shapes differ from the first bag's
                    raise DatasetError(f"{path}: {exc}") from None
    except DatasetError as exc:
        print(f"bag import: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {len(episodes)} episodes to {args.out}")
    return 0
