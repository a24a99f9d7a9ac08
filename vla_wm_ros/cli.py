"""The `vla-wm` command.

Each sub-command lives in its own module under vla_wm_ros.commands and is imported only
when used, so `vla-wm ground` does not pay for rclpy and `vla-wm run` not for training.
A command module defines NAME (a tuple: ("bench", "planner") is `vla-wm bench planner`),
HELP, add_arguments(parser) and run(args) -> exit code.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# Module names under vla_wm_ros.commands; the order is the order in --help.
COMMANDS: list[str] = [
    "run",
    "goal",
    "plan_view",
    "eval_closed_loop",
    "eval_combine",
    "demo",
    "collect",
    "bag_export",
    "bag_import",
    "bag_info",
    "data_import",
    "data_merge",
    "ground",
    "eval_grounding",
    "train",
    "snapshot",
    "dagger",
    "train_value",
    "average",
    "eval_world_model",
    "eval_probe",
    "eval_view_probe",
    "eval_actor",
    "bench_imagine",
    "bench_planner",
    "bench_render",
    "bench_train",
    "bench_control_loop",
    "bench_robustness",
    "bench_grounding",
    "export",
]


def _load(name: str):
    return importlib.import_module(f"vla_wm_ros.commands.{name}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vla-wm",
        description="Language-commanded world-model control: data, training, "
        "evaluation, export, and the ROS 2 runtime.",
    )
    groups: dict[tuple[str, ...], argparse._SubParsersAction] = {
        (): parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    }
    for module_name in COMMANDS:
        module = _load(module_name)
        path = tuple(module.NAME)
        for depth in range(1, len(path)):
            prefix = path[:depth]
            if prefix not in groups:
                parent = groups[path[: depth - 1]]
                group = parent.add_parser(prefix[-1], help=f"{prefix[-1]} commands")
                groups[prefix] = group.add_subparsers(
                    dest="_".join(prefix), metavar="COMMAND", required=True
                )
        sub = groups[path[:-1]].add_parser(path[-1], help=module.HELP, description=module.HELP)
        module.add_arguments(sub)
        sub.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    from vla_wm_ros.config import ConfigError

    args = build_parser().parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except ConfigError as exc:  # a setting that cannot work here: say which, no traceback
        print(f"vla-wm {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
