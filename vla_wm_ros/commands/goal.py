"""`vla-wm goal "open the drawer"`: run an instruction on a running graph and follow it.

Sends it as an ExecuteInstruction goal to instruction_parser's `~/execute` and prints
the action's feedback (grounded task, step, predicted return, planner status) until the
result: success, the end of the episode, the timeout, or Ctrl-C / SIGTERM, which cancel
the goal (the robot holds). Exit status: 0 success, 1 failure, timeout or cancel, 2 refused.
"""

from __future__ import annotations

import argparse
import json

NAME = ("goal",)
HELP = "run a language goal on the running graph (ExecuteInstruction action) and follow it"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("instruction", help='what to do, e.g. "open the drawer"')
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds (default 60)")
    parser.add_argument("--json", action="store_true", help="print one JSON object at the end")


def run(args: argparse.Namespace) -> int:
    from vla_wm_ros.ros.graph_client import GraphClient, GraphError
    from vla_wm_ros.ros.node_main import catch_stop_signals

    def show(fb) -> None:
        if not args.json:
            print(
                f"feedback: task {fb.task or '-'}  step {fb.step:4d}  predicted return "
                f"{fb.predicted_return:8.3f}  reward {fb.predicted_reward:6.3f}  "
                f"status {fb.status or '-'}",
                flush=True,
            )

    catch_stop_signals()  # SIGINT (also when inherited ignored) and SIGTERM cancel the goal
    client = GraphClient()
    try:
        result, ended = client.execute(args.instruction, args.timeout, show)
    except GraphError as exc:
        print(f"vla-wm goal: {exc}")
        return 2
    finally:
        client.close()
    refused = result.message.startswith("refused")
    summary = {
        "instruction": args.instruction,
        "goal_id": result.goal_id,
        "success": bool(result.success),
        "steps": int(result.steps),
        "ended": "refused" if refused else ended,
        "message": result.message,
    }
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"result: {ended}, success {result.success}, {result.steps} steps: {result.message}")
    if refused:
        return 2
    return 0 if result.success else 1
