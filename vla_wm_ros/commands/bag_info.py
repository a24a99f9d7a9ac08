"""`vla-wm bag info`: what a rosbag2 bag holds, without ROS (topics, types, rates, joints)."""

from __future__ import annotations

import argparse
import json
import sys

NAME = ("bag", "info")
HELP = "list a bag's topics with type, count, rate and joint names (to write an import config)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bag", help="rosbag2 folder or .mcap/.db3 file")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    from vla_wm_ros.data.bag_reader import describe_bag
    from vla_wm_ros.data.layout import DatasetError

    try:
        info = describe_bag(args.bag)
    except DatasetError as exc:
        print(f"bag info: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(info))
        return 0
    print(f"{info['path']}: {info['storage']}, {info['duration_s']} s")
    for topic, entry in info["topics"].items():
        rate = f"{entry['rate_hz']:g} Hz" if "rate_hz" in entry else "-"
        print(f"  {topic:40s} {entry['type']:40s} {entry['count']:7d}  {rate}")
        if "joints" in entry:
            print(f"    joints: {', '.join(entry['joints'])}")
    return 0
