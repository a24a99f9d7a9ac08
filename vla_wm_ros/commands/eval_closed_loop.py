"""`vla-wm eval closed-loop`: task success through the ROS graph, several ways of acting.

For each mode, the whole graph is started in this process with the simulator stepping
once per action (step_mode on_action, planner lockstep), and every episode goes through
the graph only: reset by sim_bridge's `~/reset`, the task's canonical instruction by
`~/set_goal`, success read from EpisodeStatus. Modes:

- planner: the world-model planner (the `--planner-config` preset or YAML) with actor prior;
- planner-novalue / planner-noprior / planner-nounc: the same planner without the terminal
  value (value_weight 0), without the actor-prior samples (policy_samples 0), or without
  any use of the Q ensemble's uncertainty (uncertainty_penalty 0, uncertainty_margin off):
  ablations, passed to the planner node as a PlannerConfig YAML written for the run;
- actor: the actor alone; random: uniform actions.

Reports success rate, mean episode length, control-loop latency (p50, p99, deadline misses
over the planning ticks) and the share of planned ticks whose sent action differs from the
actor's own (evaluation/deviation.py, beliefs read from the state estimator's topic) per
task and mode, as one JSON object with --json, and a PNG of the table
(evaluation/closed_loop_report.py).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from vla_wm_ros.commands.run import add_launch_arguments
from vla_wm_ros.evaluation.deviation import DEFAULT_TOLERANCE

NAME = ("eval", "closed-loop")
HELP = "closed-loop task success through the ROS graph: planner, its ablations, actor, random"
# Planner ablations: the SamplingConfig fields each one overrides.
ABLATIONS: dict[str, dict[str, float | None]] = {
    "planner-novalue": {"value_weight": 0.0},
    "planner-noprior": {"policy_samples": 0},
    "planner-nounc": {"uncertainty_penalty": 0.0, "uncertainty_margin": None},
}
MODES = ("planner", *ABLATIONS, "actor", "random")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--tasks",
        default="button-press-topdown",
        help="comma-separated task names, or 'mt10' (default: button-press-topdown)",
    )
    parser.add_argument("--episodes", type=int, default=5, help="episodes per task and mode")
    parser.add_argument(
        "--modes", default="planner,actor,random", help=f"comma-separated: {', '.join(MODES)}"
    )
    parser.add_argument(
        "--planner-config",
        default="default",
        help="planner preset name or PlannerConfig YAML (the ablations start from it)",
    )
    parser.add_argument(
        "--deviation-tolerance",
        type=float,
        default=DEFAULT_TOLERANCE,
        help="a tick deviates from the actor when an action dimension differs by more",
    )
    parser.add_argument("--seed", type=int, default=1000, help="seed of the first episode")
    parser.add_argument(
        "--max-steps", type=int, default=500, help="steps per episode (default 500, Meta-World's)"
    )
    parser.add_argument(
        "--episode-timeout", type=float, default=300.0, help="wall seconds per episode"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--plot", default="eval_closed_loop.png", help="PNG of the table ('' for none)"
    )
    add_launch_arguments(parser)
    parser.set_defaults(sim="mujoco")


def _tasks(text: str) -> list[str]:
    from vla_wm_ros.language.suite import load_suite

    suite = load_suite()
    names = suite.names if text == "mt10" else text.split(",")
    unknown = [n for n in names if n not in suite.names]
    if unknown:
        raise SystemExit(f"unknown task(s): {', '.join(unknown)}")
    return names


def planner_parameters(mode: str, source: str, directory: Path) -> dict:
    """The planner node's parameters for `mode`: an ablation gets a PlannerConfig YAML in
    `directory`, made from `source` (preset or YAML) with its fields overridden."""
    if mode not in ABLATIONS:
        return {"mode": mode, "planner_config": source}
    import dataclasses

    from vla_wm_ros.config.loader import save_yaml
    from vla_wm_ros.control.control_policy import planner_config

    cfg = planner_config("mppi", source)
    for kind in ("mppi", "cem"):
        setattr(cfg, kind, dataclasses.replace(getattr(cfg, kind), **ABLATIONS[mode]))
    path = directory / f"{mode}.yaml"
    save_yaml(cfg, path)
    return {"mode": "planner", "planner_config": str(path)}


class _BeliefRecorder:
    """Beliefs and goals as the planner receives them, for the deviation measure."""

    def __init__(self, node) -> None:
        from vla_wm_interfaces.msg import Goal, LatentState
        from vla_wm_ros.ros import qos
        from vla_wm_ros.ros.graph import GOAL, LATENT

        self.beliefs = []
        self.predicted: dict[str, int] = {}  # goal -> beliefs advanced without a frame
        self.goals: dict[str, list[float]] = {}
        node.create_subscription(LatentState, LATENT, self._on_latent, qos.STATE)
        node.create_subscription(Goal, GOAL, self._on_goal, qos.GOAL)

    def _on_latent(self, msg) -> None:
        import numpy as np

        from vla_wm_ros.evaluation.deviation import BeliefRecord

        if msg.predicted_only:
            self.predicted[msg.goal_id] = self.predicted.get(msg.goal_id, 0) + 1
        feature = np.asarray([*msg.deter, *msg.stoch], dtype=np.float32)
        self.beliefs.append(BeliefRecord(_ns(msg.header.stamp), msg.goal_id, feature))

    def _on_goal(self, msg) -> None:
        self.goals[msg.goal_id] = list(msg.embedding)

    def deviation(self, wm, record, tolerance: float) -> dict:
        """The episode's deviation from the actor and its count of beliefs predicted
        without a frame; forgets the episode's beliefs."""
        import numpy as np

        from vla_wm_ros.evaluation.deviation import TickRecord, actor_deviation
        from vla_wm_ros.ros.graph_client import PLANNED

        ticks = [
            TickRecord(_ns(p.header.stamp), p.goal_id, np.asarray(p.action, dtype=np.float32))
            for p in record.plans
            if p.goal_id == record.goal_id and p.status in PLANNED
        ]
        beliefs = [b for b in self.beliefs if b.goal_id == record.goal_id]
        self.beliefs = []
        predicted = self.predicted.pop(record.goal_id, 0)
        goal = self.goals.get(record.goal_id)
        if goal is None:
            return {"ticks": len(ticks), "paired": 0, "deviating": 0, "predicted": predicted}
        out = actor_deviation(wm, beliefs, ticks, np.asarray(goal, np.float32), tolerance)
        return {**out, "predicted": predicted}


def _ns(stamp) -> int:
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def _evaluate_mode(mode, args, tasks, instructions, progress, wm, directory) -> dict:
    from vla_wm_ros.commands.run import graph_arguments
    from vla_wm_ros.evaluation.closed_loop_report import summarise
    from vla_wm_ros.ros.graph import NODES, describe
    from vla_wm_ros.ros.graph_client import GraphClient
    from vla_wm_ros.ros.in_process import InProcessGraph

    overrides = {
        "sim_bridge": {"step_mode": "on_action", "max_steps": args.max_steps},
        "planner": {**planner_parameters(mode, args.planner_config, directory), "lockstep": True},
    }
    graph_args = graph_arguments(args)
    specs = describe(graph_args, overrides)
    out = {}
    with InProcessGraph(specs) as graph:
        graph.start()
        client = GraphClient(context=graph.context)
        recorder = _BeliefRecorder(client.node)
        try:
            client.check_alone(NODES)
            for task in tasks:
                records, deviations = [], []
                for episode in range(args.episodes):
                    record = client.run_episode(
                        task, args.seed + episode, instructions[task], args.episode_timeout
                    )
                    records.append(record)
                    deviations.append(recorder.deviation(wm, record, args.deviation_tolerance))
                    progress.set_postfix_str(
                        f"{mode} {task} {sum(r.success for r in records)}/{len(records)}"
                    )
                    progress.update(1)
                out[task] = summarise(records, 1e3 / graph_args.control_frequency, deviations)
        finally:
            client.close()
    return out


def run(args: argparse.Namespace) -> int:
    import tempfile

    from tqdm import tqdm

    from vla_wm_ros.control.model_runtime import resolve_model_dir
    from vla_wm_ros.evaluation.closed_loop_report import (
        plot_table,
        print_table,
        totals,
    )
    from vla_wm_ros.language.suite import load_suite
    from vla_wm_ros.models.checkpoint import CheckpointError, load_checkpoint
    from vla_wm_ros.paths import DEFAULT_MODEL
    from vla_wm_ros.ros.graph_client import GraphError

    try:
        wm = load_checkpoint(resolve_model_dir(args.model_dir))
    except (FileNotFoundError, CheckpointError) as exc:
        print(f"vla-wm eval closed-loop: {exc}", file=sys.stderr)
        return 2
    modes = args.modes.split(",")
    bad = [m for m in modes if m not in MODES]
    if bad:
        print(f"unknown mode(s) {', '.join(bad)}; choose from {', '.join(MODES)}", file=sys.stderr)
        return 2
    tasks = _tasks(args.tasks)
    suite = load_suite()
    instructions = {name: suite.task(name).canonical for name in tasks}
    results: dict[str, dict] = {}
    total = len(modes) * len(tasks) * args.episodes
    with tempfile.TemporaryDirectory() as tmp, tqdm(total=total, file=sys.stderr) as progress:
        try:
            for mode in modes:
                results[mode] = _evaluate_mode(
                    mode, args, tasks, instructions, progress, wm, Path(tmp)
                )
        except GraphError as exc:
            print(f"vla-wm eval closed-loop: {exc}", file=sys.stderr)
            return 2
    report = {
        "tasks": tasks,
        "episodes": args.episodes,
        "seeds": [args.seed, args.seed + args.episodes - 1],
        "control_frequency": float(args.control_frequency),
        "step_mode": "on_action (lock-step)",
        "planner_config": args.planner_config,
        "deviation_tolerance": args.deviation_tolerance,
        "max_steps": args.max_steps,
        # As the user named it (not this machine's path): reports get committed and shared.
        "model": args.model_dir or f"{DEFAULT_MODEL} (shipped)",
        "results": results,
        **totals(results),
    }
    if args.plot:
        plot_table(results, Path(args.plot))
        report["plot"] = str(args.plot)
    if args.json:
        print(json.dumps(report))
    else:
        print_table(results, modes, tasks)
        if args.plot:
            print(f"plot: {args.plot}")
    return 0
