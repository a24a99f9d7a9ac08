"""`vla-wm bag export`: one dataset episode -> a ROS 2 MCAP bag."""

from __future__ import annotations

import argparse
import sys

NAME = ("bag", "export")
HELP = "write a dataset episode as a ROS 2 MCAP bag (Image, JointState, action, instruction)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from vla_wm_ros.data.bags import add_topic_arguments

    parser.add_argument("--data", required=True, help="dataset directory")
    parser.add_argument("--episode", type=int, default=0, help="episode index")
    parser.add_argument("--out", required=True, help="output .mcap file")
    add_topic_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from vla_wm_ros.data.bags import export_episode, topics_from_args
    from vla_wm_ros.data.layout import DatasetError
    from vla_wm_ros.data.reader import EpisodeDataset

    topics = topics_from_args(args)
    try:
        dataset = EpisodeDataset(args.data)
        if not 0 <= args.episode < dataset.num_episodes:
            raise DatasetError(f"{args.data}: episode {args.episode} of {dataset.num_episodes}")
        episode = dataset.episode(args.episode)
        path = export_episode(episode, args.out, topics, dataset.spec.state_names)
    except DatasetError as exc:
        print(f"bag export: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {path} ({episode.length} frames, {episode.task}: {episode.instruction!r})")
    return 0
