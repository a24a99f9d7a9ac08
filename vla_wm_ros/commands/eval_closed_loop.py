"""`vla-wm eval closed-loop`: task success through the ROS graph, three ways of acting.

For each mode, (a) planner: the world-model planner with actor prior, (b) actor: the
actor alone, (c) random: uniform actions, the whole graph is started in this process
with the simulator stepping once per action (step_mode on_action, planner lockstep), and
every episode goes through the graph only: reset by sim_bridge's `~/reset`, the task's
canonical instruction by `~/set_goal`, success read from EpisodeStatus. Reports success
rate, mean episode length and control-loop latency (p50, p99, deadline misses over the
planning ticks) per task and mode, as one JSON object with --json, and a PNG of the table.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from vla_wm_ros.commands.run import add_launch_arguments

NAME = ("eval", "closed-loop")
HELP = "closed-loop task success through the ROS graph: planner vs actor vs random"
MODES = ("planner", "actor", "random")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--tasks",
        default="button-press-topdown",
        help="comma-separated task names, or 'mt10' (default: button-press-topdown)",
    )
    parser.add_argument("--episodes", type=int, default=5, help="episodes per task and mode")
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated modes")
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


def summarise(records, period_ms: float) -> dict:
    """Success rate, mean length and loop latency of one task's episodes."""
    from vla_wm_ros.bench.stats import latency_summary

    times = [t for r in records for t in r.plan_times_ms()]
    out = {
        "episodes": len(records),
        "success_rate": sum(r.success for r in records) / len(records),
        "mean_length": sum(r.length for r in records) / len(records),
        "timeouts": sum(r.timed_out for r in records),
        "planning_ticks": len(times),
    }
    if times:
        lat = latency_summary(times, deadline_ms=period_ms)
        out.update(
            latency_p50_ms=lat["p50_ms"],
            latency_p99_ms=lat["p99_ms"],
            deadline_misses=lat["deadline_misses"],
        )
    holds: dict[str, int] = {}
    for r in records:
        for status, n in r.holds().items():
            holds[status] = holds.get(status, 0) + n
    out["safe_action_ticks"] = holds
    return out


def _evaluate_mode(mode, args, tasks, instructions, progress) -> dict:
    from vla_wm_ros.commands.run import graph_arguments
    from vla_wm_ros.ros.graph import describe
    from vla_wm_ros.ros.graph_client import GraphClient
    from vla_wm_ros.ros.in_process import InProcessGraph

    overrides = {
        "sim_bridge": {"step_mode": "on_action", "max_steps": args.max_steps},
        "planner": {"mode": mode, "lockstep": True},
    }
    graph_args = graph_arguments(args)
    specs = describe(graph_args, overrides)
    out = {}
    with InProcessGraph(specs) as graph:
        graph.start()
        client = GraphClient(context=graph.context)
        try:
            for task in tasks:
                records = []
                for episode in range(args.episodes):
                    records.append(
                        client.run_episode(
                            task, args.seed + episode, instructions[task], args.episode_timeout
                        )
                    )
                    progress.set_postfix_str(
                        f"{mode} {task} {sum(r.success for r in records)}/{len(records)}"
                    )
                    progress.update(1)
                out[task] = summarise(records, 1e3 / graph_args.control_frequency)
        finally:
            client.close()
    return out


def plot_table(results: dict, path: Path) -> None:
    from vla_wm_ros.evaluation.figures import pyplot, save_figure

    plt = pyplot()

    modes = list(results)
    tasks = list(next(iter(results.values())))
    fig, (bars, table) = plt.subplots(
        2, 1, figsize=(max(6, 1.6 * len(tasks) + 3), 4 + 0.35 * len(tasks) * len(modes))
    )
    width = 0.8 / len(modes)
    for i, mode in enumerate(modes):
        rates = [100 * results[mode][t]["success_rate"] for t in tasks]
        bars.bar([k + i * width for k in range(len(tasks))], rates, width, label=mode)
    bars.set_xticks([k + width * (len(modes) - 1) / 2 for k in range(len(tasks))], tasks)
    bars.set_ylabel("success %")
    bars.set_ylim(0, 100)
    bars.legend()
    rows = []
    for mode in modes:
        for task in tasks:
            r = results[mode][task]
            rows.append(
                [
                    mode,
                    task,
                    f"{100 * r['success_rate']:.0f}%",
                    f"{r['mean_length']:.0f}",
                    f"{r.get('latency_p50_ms', float('nan')):.1f}",
                    f"{r.get('latency_p99_ms', float('nan')):.1f}",
                    str(r.get("deadline_misses", 0)),
                ]
            )
    table.axis("off")
    table.table(
        cellText=rows,
        colLabels=["mode", "task", "success", "length", "p50 ms", "p99 ms", "misses"],
        loc="center",
    )
    save_figure(fig, path)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from vla_wm_ros.control.model_runtime import resolve_model_dir
    from vla_wm_ros.language.suite import load_suite

    try:
        resolve_model_dir(args.model_dir)
    except FileNotFoundError as exc:
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
    with tqdm(total=len(modes) * len(tasks) * args.episodes, file=sys.stderr) as progress:
        for mode in modes:
            results[mode] = _evaluate_mode(mode, args, tasks, instructions, progress)
    report = {
        "tasks": tasks,
        "episodes": args.episodes,
        "seeds": [args.seed, args.seed + args.episodes - 1],
        "control_frequency": float(args.control_frequency),
        "step_mode": "on_action (lock-step)",
        "results": results,
        "mean_success": {
            m: sum(r["success_rate"] for r in results[m].values()) / len(tasks) for m in modes
        },
    }
    if args.plot:
        plot_table(results, Path(args.plot))
        report["plot"] = str(args.plot)
    if args.json:
        print(json.dumps(report))
    else:
        for mode in modes:
            for task in tasks:
                r = results[mode][task]
                print(
                    f"{mode:8s} {task:24s} success {100 * r['success_rate']:5.1f}%  "
                    f"length {r['mean_length']:6.1f}  "
                    f"p50 {r.get('latency_p50_ms', 0):6.1f} ms  "
                    f"p99 {r.get('latency_p99_ms', 0):6.1f} ms  "
                    f"misses {r.get('deadline_misses', 0)}"
                )
        if args.plot:
            print(f"plot: {args.plot}")
    return 0
