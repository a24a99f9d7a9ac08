"""`vla-wm ground "TEXT"`: which task an instruction means, or why it is refused."""

from __future__ import annotations

import argparse
import json

NAME = ("ground",)
HELP = "ground an instruction to a task of the suite (offline sentence encoder)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("text", help="the instruction")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def run(args: argparse.Namespace) -> int:
    from vla_wm_ros.language.grounding import Grounder

    result = Grounder.from_config().ground(args.text).to_json()
    if args.json:
        print(json.dumps(result))
    else:
        verdict = "accepted" if result["accepted"] else "refused"
        print(
            f"{verdict}: {result['task']} (confidence {result['confidence']:.2f}): "
            f"{result['reason']}"
        )
    return 0 if result["accepted"] else 1
