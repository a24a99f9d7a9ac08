"""`vla-wm bench robustness`: the bad-input corpus played against a running graph.

Starts the graph with the embedded simulator (timer mode, as `vla-wm run`), gives it a
goal, plays every case of ros/robustness.corpus and reports, by class, how many were
refused aloud, plus the counts that must be zero: node crashes, non-finite commands,
planned commands on a stale belief, unlogged rejections. Runs on a ROS domain of its own
(localhost discovery), so other graphs on the machine neither disturb nor see it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from vla_wm_ros.commands.run import add_launch_arguments

NAME = ("bench", "robustness")
HELP = "play the bad-input corpus against a running graph; count crashes and silent accepts"
ZERO = ("node_crashes", "non_finite_commands", "stale_commands", "unlogged_rejections")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--domain-id", type=int, default=1 + os.getpid() % 100, help="ROS domain of the run"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the random frames")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    add_launch_arguments(parser)


def run(args: argparse.Namespace) -> int:
    if args.sim != "mujoco":
        print(
            "vla-wm bench robustness: needs --sim mujoco (resets, the action sink)", file=sys.stderr
        )
        return 2
    os.environ["ROS_DOMAIN_ID"] = str(args.domain_id)
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"

    from tqdm import tqdm

    from vla_wm_ros.commands.run import graph_arguments
    from vla_wm_ros.control.model_runtime import resolve_model_dir
    from vla_wm_ros.models.checkpoint import read_config
    from vla_wm_ros.ros.graph import describe
    from vla_wm_ros.ros.in_process import InProcessGraph
    from vla_wm_ros.ros.robustness import Player, corpus

    cfg = read_config(resolve_model_dir(args.model_dir))
    cases = corpus(cfg.proprio_dim, cfg.action_dim, cfg.goal_dim)
    with InProcessGraph(describe(graph_arguments(args))) as graph:
        graph.start()
        player = Player(graph, args.seed)
        try:
            if not player.start_goal():
                print("vla-wm bench robustness: the graph never planned a goal", file=sys.stderr)
                return 2
            with tqdm(total=len(cases), desc="bench robustness", file=sys.stderr) as bar:
                report = player.play(cases, lambda case, ok: bar.update(1))
        finally:
            player.close()
    report["zero_required"] = {key: report[key] for key in ZERO}
    report["passed"] = not any(report[key] for key in ZERO)
    if args.json:
        print(json.dumps(report))
    else:
        for kind, entry in report["by_class"].items():
            print(f"{kind:>16}: {entry['handled']} of {entry['cases']} refused aloud")
        for key in ZERO:
            print(f"{key:>20}: {report[key]}")
        for failure in report["failures"]:
            print(f"  FAILED {failure['class']} / {failure['case']}: {failure['detail']}")
    return 0 if report["passed"] else 1
