"""The closed-loop evaluation's report: per-task figures, pooled shares, table and plot.

`vla-wm eval closed-loop` runs the episodes through the ROS graph; what it measured is
summed up and shown here, apart from the graph plumbing.
"""

from __future__ import annotations

from pathlib import Path


def summarise(records, period_ms: float, deviations: list[dict]) -> dict:
    """Success rate, mean length, loop latency, deviation from the actor and beliefs
    predicted without a frame (prior-only steps) of one task's episodes."""
    from vla_wm_ros.latency import latency_summary

    times = [t for r in records for t in r.plan_times_ms()]
    paired = sum(d["paired"] for d in deviations)
    deviating = sum(d["deviating"] for d in deviations)
    out = {
        "episodes": len(records),
        "success_rate": sum(r.success for r in records) / len(records),
        "mean_length": sum(r.length for r in records) / len(records),
        "timeouts": sum(r.timed_out for r in records),
        "outcomes": [{"seed": r.seed, "success": r.success, "length": r.length} for r in records],
        "planning_ticks": len(times),
        "deviation": {
            "share": deviating / paired if paired else None,
            "deviating": deviating,
            "paired_ticks": paired,
            "unpaired_ticks": sum(d["ticks"] - d["paired"] for d in deviations),
        },
        "predicted_beliefs": sum(d.get("predicted", 0) for d in deviations),
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


def pooled_deviation(per_task: dict) -> float | None:
    """Deviating ticks over paired ticks, all tasks of a mode together."""
    paired = sum(r["deviation"]["paired_ticks"] for r in per_task.values())
    deviating = sum(r["deviation"]["deviating"] for r in per_task.values())
    return deviating / paired if paired else None


def totals(results: dict) -> dict:
    """Per mode: mean success over its tasks and the pooled deviation share."""
    return {
        "mean_success": {
            m: sum(r["success_rate"] for r in per_task.values()) / len(per_task)
            for m, per_task in results.items()
        },
        "deviation_share": {m: pooled_deviation(per_task) for m, per_task in results.items()},
    }


def markdown_table(results: dict) -> str:
    """Success per task (rows) and mode (columns), the mean last: for docs and notes."""
    modes = list(results)
    tasks = list(next(iter(results.values())))
    lines = [
        "| task | " + " | ".join(modes) + " |",
        "| --- |" + " --- |" * len(modes),
    ]
    for task in tasks:
        cells = [f"{100 * results[m][task]['success_rate']:.0f} %" for m in modes]
        lines.append(f"| {task} | " + " | ".join(cells) + " |")
    both = totals(results)
    means, shares = both["mean_success"], both["deviation_share"]
    lines.append("| **mean** | " + " | ".join(f"**{100 * means[m]:.0f} %**" for m in modes) + " |")
    lines.append("| deviates from actor | " + " | ".join(percent(shares[m]) for m in modes) + " |")
    return "\n".join(lines)


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
                    percent(r["deviation"]["share"]),
                ]
            )
    table.axis("off")
    table.table(
        cellText=rows,
        colLabels=["mode", "task", "success", "length", "p50 ms", "p99 ms", "misses", "deviates"],
        loc="center",
    )
    save_figure(fig, path)


def percent(share: float | None) -> str:
    return "-" if share is None else f"{100 * share:.0f}%"


def print_table(results: dict, modes: list[str], tasks: list[str]) -> None:
    """One line per mode and task: success, length, latency, misses, deviation."""
    for mode in modes:
        for task in tasks:
            r = results[mode][task]
            print(
                f"{mode:15s} {task:24s} success {100 * r['success_rate']:5.1f}%  "
                f"length {r['mean_length']:6.1f}  "
                f"p50 {r.get('latency_p50_ms', 0):6.1f} ms  "
                f"p99 {r.get('latency_p99_ms', 0):6.1f} ms  "
                f"misses {r.get('deadline_misses', 0)}  "
                f"deviates {percent(r['deviation']['share'])}"
            )
