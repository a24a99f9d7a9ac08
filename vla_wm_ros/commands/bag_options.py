"""Command-line options shared by `vla-wm bag import` and `bag export` (not a command).

One --X-topic option per `BagTopics` field; an option left out keeps the value from the
--config file (import) or the default topic name.
"""

from __future__ import annotations

import argparse
import dataclasses

from vla_wm_ros.data.bag_config import BagTopics

OPTIONAL_TOPICS = ("camera_info", "instruction", "reward", "success", "clock")


def add_topic_arguments(parser: argparse.ArgumentParser) -> None:
    for name, default in vars(BagTopics()).items():
        flag = "--" + ("joint" if name == "joint_states" else name.replace("_", "-")) + "-topic"
        optional = " ('' if absent)" if name in OPTIONAL_TOPICS else ""
        parser.add_argument(
            flag,
            dest=f"{name}_topic",
            default=None,
            help=f"topic of the {name.replace('_', ' ')} messages (default {default}){optional}",
        )


def topics_from_args(args: argparse.Namespace, base: BagTopics | None = None) -> BagTopics:
    """`base` (default names) with the topics given on the command line."""
    given = {
        name: getattr(args, f"{name}_topic")
        for name in vars(BagTopics())
        if getattr(args, f"{name}_topic") is not None
    }
    return dataclasses.replace(base or BagTopics(), **given)
