"""`vla-wm bench planner`: ms per plan, throughput and roofline of the planner, against the
seed document's planning loop and TorchRL's MPPIPlanner on equally sized models.

For each preset pair (world model preset = planner preset: `default`, `seed`) it times
our planner, the seed-style loop with the same samples/horizon/iterations, and TorchRL's
MPPIPlanner with the same settings, interleaved in one process. Ratios compare imagined
transitions per second (for the seed preset the work per plan is identical, so it is
also the ratio of ms per plan). Figures on a shared machine are noisy: read ratios.
"""

from __future__ import annotations

import argparse
import sys

NAME = ("bench", "planner")
HELP = "planner ms/plan p50/p95/p99, transitions/s, FLOPs, roofline, vs seed-style and TorchRL"

TARGETS = {"p99_ms": 60.0, "vs_seed_style": 2.0, "vs_torchrl": 1.0, "roofline_fraction": 0.7}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--presets", default="default,seed", help="comma-separated presets")
    parser.add_argument("--rounds", type=int, default=30, help="timed plans per contender")
    parser.add_argument("--warmup", type=int, default=3, help="untimed plans first")
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--torchrl",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also time TorchRL's MPPIPlanner (default: on)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def _torchrl_unavailable() -> str | None:
    """None when TorchRL imports with this torch, else why not."""
    try:
        from torchrl.modules.planners import MPPIPlanner  # noqa: F401
    except Exception as exc:  # any import failure is the reason to report
        return f"torchrl's MPPIPlanner does not import with this torch: {exc!r}"
    return None


def run(args: argparse.Namespace) -> int:
    import torch
    from tqdm import tqdm

    from vla_wm_ros.bench.machine import machine_info
    from vla_wm_ros.bench.planner import (
        Contender,
        make_world_model,
        run_interleaved,
        sampling_settings,
        seed_style_contender,
        start_belief,
        summary,
        torchrl_contender,
        transitions_per_plan,
    )
    from vla_wm_ros.bench.report import print_report
    from vla_wm_ros.bench.roofline import gemm_flops_per_s
    from vla_wm_ros.config.model import load_preset as load_model_preset
    from vla_wm_ros.planning import build_planner, load_planner_preset
    from vla_wm_ros.planning.world_model_adapter import WorldModelPlanningModel

    torch.set_num_threads(args.threads)
    presets = [p for p in args.presets.split(",") if p]
    torchrl_reason = _torchrl_unavailable() if args.torchrl else "not requested (--no-torchrl)"
    peak_before = gemm_flops_per_s()
    bar = tqdm(total=len(presets) * args.rounds, desc="bench planner", file=sys.stderr)
    results: dict[str, dict] = {}
    for preset in presets:
        wm_cfg, planner_cfg = load_model_preset(preset), load_planner_preset(preset)
        sampling = sampling_settings(planner_cfg)
        wm = make_world_model(wm_cfg, wm_cfg.action_dim, args.seed)
        model = WorldModelPlanningModel(wm)
        planner = build_planner(planner_cfg, model)
        belief = start_belief(model, args.seed)
        goal = torch.nn.functional.normalize(torch.randn(wm.cfg.goal_dim), dim=0)
        ours = Contender(
            f"ours_{planner.name}",
            lambda planner=planner, belief=belief, goal=goal: planner.plan(belief, goal),
            transitions_per_plan(sampling),
        )
        seed_kind = "cem" if planner.name == "cem" else "mppi"
        contenders = [
            ours,
            seed_style_contender(wm_cfg, sampling, seed_kind, wm.action_dim, args.seed),
        ]
        if torchrl_reason is None:
            contenders.append(torchrl_contender(model, belief, goal, sampling))
        run_interleaved(contenders, args.rounds, args.warmup, lambda: bar.update(1))
        results[preset] = {"contenders": contenders, "planner_cfg": planner_cfg}
    bar.close()
    peak = max(peak_before, gemm_flops_per_s())
    report = {
        "what": "one plan() call from a batch-1 belief, fp32 CPU, random-initialised weights",
        "threads": args.threads,
        "gemm_flops_per_s": peak,
        "gemm_flops_per_s_before_after": [peak_before, peak],
        "ratio_definition": "imagined transitions per second, ours / theirs, same run",
        "machine": machine_info(),
        "targets": TARGETS,
        "configs": {},
    }
    for preset, entry in results.items():
        contenders, cfg = entry["contenders"], entry["planner_cfg"]
        sampling = sampling_settings(cfg)
        sums = {c.name: summary(c, peak) for c in contenders}
        ours, seed = sums[contenders[0].name], sums[contenders[1].name]
        tps = "imagined_transitions_per_s"
        torchrl = sums.get("torchrl_mppi")
        row = {
            "world_model_preset": preset,
            "planner": {
                "kind": cfg.kind,
                "samples": sampling.samples,
                "horizon": sampling.horizon,
                "iterations": sampling.iterations,
                "elites": sampling.elites,
                "policy_samples": sampling.policy_samples,
            },
            "ms_per_plan": ours["ms_per_plan"],
            "imagined_transitions_per_s": ours[tps],
            "flops_per_transition": ours["flops_per_transition"],
            "roofline_fraction": ours["roofline_fraction"],
            "vs_seed_style": ours[tps] / seed[tps],
            "vs_torchrl": None if torchrl is None else ours[tps] / torchrl[tps],
            "details": sums,
        }
        if torchrl is None:
            row["vs_torchrl_reason"] = torchrl_reason
        row["meets"] = {
            "p99_ms": row["ms_per_plan"]["p99_ms"] <= TARGETS["p99_ms"],
            "vs_seed_style": row["vs_seed_style"] >= TARGETS["vs_seed_style"],
            "vs_torchrl": row["vs_torchrl"] is not None
            and row["vs_torchrl"] > TARGETS["vs_torchrl"],
            "roofline_fraction": row["roofline_fraction"] >= TARGETS["roofline_fraction"],
        }
        report["configs"][preset] = row
    return print_report(
        report,
        args.json,
        (
            f"{preset}: {ms['p50_ms']:.1f}/{ms['p95_ms']:.1f}/{ms['p99_ms']:.1f} ms "
            f"p50/p95/p99, {row['imagined_transitions_per_s']:,.0f} transitions/s, "
            f"roofline {row['roofline_fraction']:.2f}, vs seed-style "
            f"{row['vs_seed_style']:.2f}x, vs TorchRL {row['vs_torchrl'] or float('nan'):.2f}x"
            for preset, row in report["configs"].items()
            for ms in (row["ms_per_plan"],)
        ),
    )
