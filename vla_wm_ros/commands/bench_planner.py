"""`vla-wm bench planner`: ms per plan, throughput and roofline of the planner, against the
seed document's planning loop and TorchRL's MPPIPlanner on equally sized models.

For each preset pair (world model preset = planner preset: `default`, `seed`) it times
our planner in each requested variant (precision:rollout, e.g. fp32:eager, auto:compiled;
auto is what `planning/precision.py` picks on this machine: bf16 on CPUs with
AVX512-BF16/AMX, fp32 on AVX2), the seed-style loop with the same samples/horizon/
iterations, and TorchRL's MPPIPlanner with the same settings, all interleaved in one
process. The seed-style loop and TorchRL run fp32 as written. Ratios compare imagined
transitions per second (for the seed preset the work per plan is identical, so it is also
the ratio of ms per plan); each variant's roofline fraction is against the GEMM peak of
its own precision, measured in the same process. The row's headline figures and targets
are the last variant's (default auto:compiled, the fastest path this machine has).
Figures on a shared machine are noisy: read ratios.
"""

from __future__ import annotations

import argparse
import sys

NAME = ("bench", "planner")
HELP = "planner ms/plan p50/p95/p99, transitions/s, FLOPs, roofline, vs seed-style and TorchRL"

TARGETS = {
    "p99_ms_default_preset": 30.0,
    "vs_seed_style_seed_preset": 2.0,
    "vs_torchrl": 1.0,
    "roofline_fraction": 0.7,
}
ROLLOUTS = ("eager", "compiled")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--presets", default="default,seed", help="comma-separated presets")
    parser.add_argument(
        "--variants",
        default="fp32:eager,auto:eager,auto:compiled",
        help="comma-separated precision:rollout (precision auto|fp32|bf16|fp16, rollout "
        "eager|compiled); the last one is the headline",
    )
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


def parse_variants(text: str) -> list[tuple[str, str]]:
    """'fp32:eager,auto:compiled' -> [(precision resolved here, rollout)], duplicates
    dropped (on a CPU without bf16, auto:eager is fp32:eager)."""
    from vla_wm_ros.planning.precision import resolve_precision

    variants: list[tuple[str, str]] = []
    for item in (v for v in text.split(",") if v):
        precision, _, rollout = item.partition(":")
        rollout = rollout or "eager"
        if rollout not in ROLLOUTS:
            raise ValueError(f"--variants {item!r}: rollout must be one of {', '.join(ROLLOUTS)}")
        variant = (resolve_precision(precision), rollout)
        if variant not in variants:
            variants.append(variant)
    if not variants:
        raise ValueError("--variants: name at least one precision:rollout")
    return variants


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
        count_flops,
        make_world_model,
        run_interleaved,
        sampling_settings,
        seed_style_contender,
        start_belief,
        torchrl_contender,
        transitions_per_plan,
    )
    from vla_wm_ros.bench.report import print_report
    from vla_wm_ros.bench.roofline import gemm_flops_per_s
    from vla_wm_ros.config.model import load_preset as load_model_preset
    from vla_wm_ros.planning import build_planner, load_planner_preset
    from vla_wm_ros.planning.precision import DTYPES, cpu_has_native_bf16
    from vla_wm_ros.planning.world_model_adapter import WorldModelPlanningModel

    torch.set_num_threads(args.threads)
    presets = [p for p in args.presets.split(",") if p]
    variants = parse_variants(args.variants)
    precisions = sorted({"fp32", *(p for p, _ in variants)})
    torchrl_reason = _torchrl_unavailable() if args.torchrl else "not requested (--no-torchrl)"
    peak_before = {p: gemm_flops_per_s(dtype=DTYPES[p]) for p in precisions}
    bar = tqdm(total=len(presets) * args.rounds, desc="bench planner", file=sys.stderr)
    results: dict[str, dict] = {}
    for preset in presets:
        wm_cfg = load_model_preset(preset)
        wm = make_world_model(wm_cfg, wm_cfg.action_dim, args.seed)
        model = WorldModelPlanningModel(wm)
        belief = start_belief(model, args.seed)
        goal = torch.nn.functional.normalize(torch.randn(wm.cfg.goal_dim), dim=0)
        ours = []
        for precision, rollout in variants:
            planner_cfg = load_planner_preset(preset)
            planner_cfg.precision, planner_cfg.compiled_rollout = precision, rollout == "compiled"
            planner = build_planner(planner_cfg, model)
            ours.append(
                Contender(
                    f"ours_{planner.name}_{precision}_{rollout}",
                    lambda p=planner, b=belief, g=goal: p.plan(b, g),
                    transitions_per_plan(sampling_settings(planner_cfg)),
                )
            )
        sampling = sampling_settings(planner_cfg)
        eager = next((c for c, (_, r) in zip(ours, variants, strict=True) if r == "eager"), None)
        if eager is not None:  # compiled variants run the same math: count it once, eagerly
            eager.call()
            flops = count_flops(eager.call)
            for c in ours:
                c.flops = flops
        seed_kind = "cem" if planner.name == "cem" else "mppi"
        contenders = [
            *ours,
            seed_style_contender(wm_cfg, sampling, seed_kind, wm.action_dim, args.seed),
        ]
        if torchrl_reason is None:
            contenders.append(torchrl_contender(model, belief, goal, sampling))
        run_interleaved(contenders, args.rounds, args.warmup, lambda: bar.update(1))
        results[preset] = {"contenders": contenders, "planner_cfg": planner_cfg}
    bar.close()
    after = {p: gemm_flops_per_s(dtype=DTYPES[p]) for p in precisions}
    peak = {p: max(peak_before[p], after[p]) for p in precisions}
    report = {
        "what": "one plan() call from a batch-1 belief, CPU, random-initialised weights; "
        "seed-style and TorchRL in fp32 as written",
        "threads": args.threads,
        "native_bf16": cpu_has_native_bf16(),
        "variants": [f"{p}:{r}" for p, r in variants],
        "headline_variant": f"{variants[-1][0]}:{variants[-1][1]}",
        "gemm_flops_per_s": peak,
        "gemm_flops_per_s_before_after": {p: [peak_before[p], after[p]] for p in precisions},
        "ratio_definition": "imagined transitions per second, ours / theirs, same run",
        "machine": machine_info(),
        "targets": TARGETS,
        "configs": {},
    }
    for preset, entry in results.items():
        contenders, cfg = entry["contenders"], entry["planner_cfg"]
        report["configs"][preset] = _row(preset, contenders, variants, cfg, peak, torchrl_reason)
    return print_report(
        report,
        args.json,
        (
            f"{preset} {name}: {ms['p50_ms']:.1f}/{ms['p95_ms']:.1f}/{ms['p99_ms']:.1f} ms "
            f"p50/p95/p99, {v['imagined_transitions_per_s']:,.0f} transitions/s, "
            f"roofline {v['roofline_fraction']:.2f} of {v['precision']} GEMM peak, "
            f"vs seed-style {v['vs_seed_style']:.2f}x, "
            f"vs TorchRL {v['vs_torchrl'] or float('nan'):.2f}x"
            for preset, row in report["configs"].items()
            for name, v in row["variants"].items()
            for ms in (v["ms_per_plan"],)
        ),
    )


def _row(preset, contenders, variants, cfg, peak: dict, torchrl_reason) -> dict:
    """One preset's JSON: every variant's figures, the last variant's as the headline."""
    from vla_wm_ros.bench.planner import sampling_settings, summary

    sampling = sampling_settings(cfg)
    ours = contenders[: len(variants)]
    seed = summary(contenders[len(variants)], peak["fp32"])
    torchrl = next((c for c in contenders if c.name == "torchrl_mppi"), None)
    torchrl = None if torchrl is None else summary(torchrl, peak["fp32"])
    tps = "imagined_transitions_per_s"
    rows = {}
    for c, (precision, rollout) in zip(ours, variants, strict=True):
        s = summary(c, peak[precision])
        rows[f"{precision}:{rollout}"] = {
            "precision": precision,
            "rollout": rollout,
            "gemm_peak_flops_per_s": peak[precision],
            "ms_per_plan": s["ms_per_plan"],
            tps: s[tps],
            "flops_per_transition": s["flops_per_transition"],
            "achieved_flops_per_s": s["achieved_flops_per_s"],
            "roofline_fraction": s["roofline_fraction"],
            "vs_seed_style": s[tps] / seed[tps],
            "vs_torchrl": None if torchrl is None else s[tps] / torchrl[tps],
        }
    head = rows[f"{variants[-1][0]}:{variants[-1][1]}"]
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
        "headline_variant": f"{variants[-1][0]}:{variants[-1][1]}",
        **{k: head[k] for k in ("ms_per_plan", tps, "flops_per_transition")},
        **{k: head[k] for k in ("roofline_fraction", "vs_seed_style", "vs_torchrl")},
        "variants": rows,
        "seed_style": seed,
        "torchrl": torchrl,
    }
    if torchrl is None:
        row["vs_torchrl_reason"] = torchrl_reason
    meets = {
        "vs_torchrl": head["vs_torchrl"] is not None and head["vs_torchrl"] > TARGETS["vs_torchrl"],
        "roofline_fraction": head["roofline_fraction"] >= TARGETS["roofline_fraction"],
    }
    if preset == "default":
        meets["p99_ms"] = head["ms_per_plan"]["p99_ms"] <= TARGETS["p99_ms_default_preset"]
    if preset == "seed":
        meets["vs_seed_style"] = head["vs_seed_style"] >= TARGETS["vs_seed_style_seed_preset"]
    row["meets"] = meets
    return row
