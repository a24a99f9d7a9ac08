"""`vla-wm goal "open the drawer"`: send an instruction to a running graph and follow it.

Calls instruction_parser's `~/set_goal`, prints the grounding, then follows the
simulator's EpisodeStatus and the planner's PlanStatus until success, the end of the
episode, or the timeout. Exit status: 0 success, 1 failure or timeout, 2 refused.
"""

from __future__ import annotations

import argparse
import json
import time

NAME = ("goal",)
HELP = "send a language goal to the running graph and follow it until success or timeout"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("instruction", help='what to do, e.g. "open the drawer"')
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds (default 60)")
    parser.add_argument("--json", action="store_true", help="print one JSON object at the end")


def run(args: argparse.Namespace) -> int:
    from vla_wm_ros.ros.graph_client import GraphClient, GraphError

    client = GraphClient()
    try:
        reply = client.set_goal(args.instruction, timeout=min(args.timeout, 30.0))
    except GraphError as exc:
        print(f"vla-wm goal: {exc}")
        client.close()
        return 2
    summary = {
        "instruction": args.instruction,
        "accepted": reply.accepted,
        "goal_id": reply.goal_id,
        "task": reply.task,
        "confidence": round(float(reply.confidence), 4),
        "message": reply.message,
    }
    if not args.json:
        print(("accepted: " if reply.accepted else "refused: ") + reply.message, flush=True)
    if not reply.accepted:
        client.close()
        if args.json:
            print(json.dumps(summary))
        return 2

    start_step = None
    deadline = time.monotonic() + args.timeout
    outcome = "timeout"
    while time.monotonic() < deadline:
        client.executor.spin_once(timeout_sec=0.1)
        episode, plan = client.latest_episode, client.latest_plan
        if episode is None:
            continue
        start_step = episode.step if start_step is None else start_step
        if not args.json:
            status = f"{plan.planner} {plan.plan_time_ms:.0f} ms" if plan else "-"
            if plan is not None and plan.reason:
                status += f" ({plan.reason})"
            print(
                f"\rstep {episode.step:4d}  reward {episode.reward:6.3f}  planner: {status}"[
                    :120
                ].ljust(120),
                end="",
                flush=True,
            )
        if episode.success:
            outcome = "success"
            break
        if episode.done:
            outcome = "episode ended"
            break
    client.close()
    episode = client.latest_episode
    summary.update(outcome=outcome, steps=(episode.step - start_step) if episode else 0)
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"\n{outcome} after {summary['steps']} steps")
    return 0 if outcome == "success" else 1
