"""`vla-wm run`: the whole controller graph in this process, from the launch description.

Takes the same arguments as controller.launch.py (sim, use_sim_time, params_file,
model_dir, device, backend, control_frequency) and starts the same nodes with the same
parameters and remappings, each node on an executor thread of its own. SIGINT (once or
twice) and SIGTERM stop it cleanly: the planner's final hold goes out, exit status 0.
"""

from __future__ import annotations

import argparse

from vla_wm_ros.ros.graph import LAUNCH_ARGUMENTS

NAME = ("run",)
HELP = "start the controller graph (all nodes) in this process"


def add_launch_arguments(parser: argparse.ArgumentParser) -> None:
    """--sim, --use-sim-time, ...: one option per launch argument, same defaults."""
    for arg in LAUNCH_ARGUMENTS:
        parser.add_argument(
            "--" + arg.name.replace("_", "-"),
            dest=arg.name,
            default=arg.default,
            choices=arg.choices or None,
            help=f"{arg.description} (default: {arg.default or 'empty'})",
        )


def graph_arguments(args: argparse.Namespace):
    from vla_wm_ros.ros.graph import GraphArguments

    return GraphArguments.from_strings(
        {a.name: str(getattr(args, a.name)) for a in LAUNCH_ARGUMENTS}
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_launch_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from vla_wm_ros.ros.graph import describe
    from vla_wm_ros.ros.in_process import InProcessGraph
    from vla_wm_ros.ros.node_main import catch_stop_signals, exit_now, ignore_stop_signals

    specs = describe(graph_arguments(args))
    catch_stop_signals()  # SIGINT and SIGTERM: the final hold, then exit 0
    try:
        graph = InProcessGraph(specs)
    except KeyboardInterrupt:
        return 0  # stopped while loading: nothing was commanded yet
    names = ", ".join(spec.name for spec in specs)
    print(f"vla-wm run: {names} up ({args.sim}); Ctrl-C to stop", flush=True)
    try:
        graph.spin()
    finally:
        ignore_stop_signals()
        graph.close()
    exit_now(0)  # the graph is closed: skip the native teardown (ros/node_main.py)
