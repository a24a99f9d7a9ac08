"""`vla-wm demo` (`make demo`): the main job, end to end, on the embedded simulator.

Starts the whole graph with Meta-World and the shipped models, sends an instruction
("close the window" unless told otherwise: a task the shipped model does best) through
`~/set_goal`, resets the simulator to the task it grounds to, shows progress live, and
ends with success or failure, the episode length and the control-loop latency (p50/p99).
Writes a GIF of the camera stream and a PNG of the reward the planner predicted against
the reward the simulator gave.

Without the shipped models (models/, made by `vla-wm train`) it says so and exits
non-zero: it never shows a result it did not measure.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from vla_wm_ros.commands.run import add_launch_arguments

NAME = ("demo",)
HELP = "run the language-commanded controller on the embedded simulator"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--instruction", default="close the window", help="goal to send")
    parser.add_argument("--task", default="", help="simulator task (default: as grounded)")
    parser.add_argument("--seed", type=int, default=0, help="episode seed")
    parser.add_argument("--timeout", type=float, default=120.0, help="wall seconds")
    parser.add_argument(
        "--step-mode",
        default="on_action",
        choices=("timer", "on_action"),
        help="simulator: once per action (on_action, lock-step: a busy CPU cannot make the "
        "planner miss steps) or on its own clock (timer, like a real robot)",
    )
    parser.add_argument("--out", default="demo_output", help="folder for the GIF and PNG")
    add_launch_arguments(parser)
    parser.set_defaults(sim="mujoco")


def _progress_line(record) -> None:
    status = record.episode[-1]
    plan = record.plans[-1] if record.plans else None
    planner = "-"
    if plan is not None:
        planner = f"{plan.planner} {plan.plan_time_ms:5.1f} ms"
        if plan.reason:
            planner += f" ({plan.reason})"
    line = f"step {status.step:4d}  reward {status.reward:6.3f}  {planner}"
    print("\r" + line[:110].ljust(110), end="", flush=True)


def write_reward_plot(record, path: Path) -> None:
    from vla_wm_ros.evaluation.figures import pyplot, save_figure

    plt = pyplot()

    steps, predicted, actual = record.predicted_vs_actual_reward()
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.plot(steps, actual, label="simulator reward", color="tab:blue")
    ax.set_xlabel("step")
    ax.set_ylabel("simulator reward", color="tab:blue")
    twin = ax.twinx()
    twin.plot(steps, predicted, label="predicted (planner)", color="tab:orange")
    twin.set_ylabel("predicted reward", color="tab:orange")
    ax.set_title(f"{record.task}: {record.instruction!r}")
    save_figure(fig, path)


def run(args: argparse.Namespace) -> int:
    from vla_wm_ros.control.model_runtime import resolve_model_dir

    try:
        resolve_model_dir(args.model_dir)
    except FileNotFoundError as exc:
        print(f"vla-wm demo: {exc}.\nNothing was run: the demo never fakes a result.")
        return 2

    import imageio.v2 as imageio

    from vla_wm_ros.commands.run import graph_arguments
    from vla_wm_ros.latency import latency_summary
    from vla_wm_ros.ros.graph import NODES, describe
    from vla_wm_ros.ros.graph_client import GraphClient, GraphError
    from vla_wm_ros.ros.in_process import InProcessGraph

    graph_args = graph_arguments(args)
    overrides = {
        "sim_bridge": {"step_mode": args.step_mode},
        "planner": {"lockstep": args.step_mode == "on_action"},
    }
    print(f"starting the graph ({args.sim}, {args.device}, {graph_args.control_frequency:g} Hz)")
    with InProcessGraph(describe(graph_args, overrides)) as graph:
        graph.start()
        client = GraphClient(context=graph.context, record_frames=True)
        try:
            client.check_alone(NODES)
            task = args.task
            if not task:
                reply = client.set_goal(args.instruction)
                if not reply.accepted:
                    print(f"instruction refused: {reply.message}")
                    return 2
                task = reply.task
            print(f"{args.instruction!r} -> {task}, seed {args.seed}")
            record = client.run_episode(
                task, args.seed, args.instruction, args.timeout, on_progress=_progress_line
            )
        except GraphError as exc:
            print(f"\nvla-wm demo: {exc}")
            return 2
        finally:
            client.close()
    print()

    period_ms = 1e3 / graph_args.control_frequency
    times = record.plan_times_ms()
    outcome = "SUCCESS" if record.success else ("TIMEOUT" if record.timed_out else "FAILURE")
    print(f"{outcome}: {record.task}, episode length {record.length} steps")
    ticks = record.ticks()
    print(
        f"control loop: {ticks['total']} ticks over {record.length} steps: {ticks['planned']} "
        f"planned, {ticks['held']} safe actions, {ticks['before_goal']} before the goal arrived"
    )
    if times:
        lat = latency_summary(times, deadline_ms=period_ms)
        print(
            f"planned-tick latency p50 {lat['p50_ms']:.1f} ms, p99 {lat['p99_ms']:.1f} ms "
            f"({lat['deadline_misses']} of {lat['n']} planned ticks over the "
            f"{period_ms:.0f} ms period)"
        )
    else:
        print("the planner never planned for this goal")
    if record.holds():
        print(f"safe-action ticks: {record.holds()}")

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if record.frames:
        gif = out / "camera.gif"
        imageio.mimsave(gif, record.frames, duration=period_ms / 1e3, loop=0)
        print(f"camera stream: {gif} ({len(record.frames)} frames)")
    png = out / "reward.png"
    write_reward_plot(record, png)
    print(f"predicted vs actual reward: {png}")
    return 0 if record.success else 1
