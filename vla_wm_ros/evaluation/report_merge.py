"""Closed-loop reports of separate runs joined into one, only when they measured the same
episodes: the same tasks, placement seeds, episode count and step limit.

An ablation table is only a comparison if every mode met the same placements; running
each mode as its own job (hours each on a small CPU) is common, so the check belongs in
the join, not in the reader's head.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

from vla_wm_ros.evaluation.closed_loop_report import totals

# What makes two reports' episodes the same episodes.
SAME = ("tasks", "episodes", "seeds", "max_steps", "control_frequency", "step_mode")


class ReportError(ValueError):
    """Reports that cannot be joined, with the file and the reason."""


def read_report(path: Path) -> dict:
    try:
        report = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ReportError(f"{path}: not a readable closed-loop report ({exc})") from exc
    if not isinstance(report, dict) or not isinstance(report.get("results"), dict):
        raise ReportError(f"{path}: no 'results' (write it with `vla-wm eval closed-loop --json`)")
    return report


def within_steps(report: dict, steps: int, path: Path) -> dict:
    """`report` as if its episodes had been cut at `steps`: a success counts only if it
    came within them (the first `steps` of a longer episode are the episode a shorter run
    would have played). Latency and deviation figures stay those of the whole run."""
    if report.get("max_steps") is None or report["max_steps"] < steps:
        raise ReportError(
            f"{path}: ran {report.get('max_steps')} steps per episode, fewer than {steps}"
        )
    report = copy.deepcopy(report)
    for per_task in report["results"].values():
        for task in per_task.values():
            outcomes = task["outcomes"]
            for o in outcomes:
                o["success"] = bool(o["success"] and o["length"] <= steps)
                o["length"] = min(o["length"], steps)
            task["success_rate"] = sum(o["success"] for o in outcomes) / len(outcomes)
            task["mean_length"] = sum(o["length"] for o in outcomes) / len(outcomes)
    report["max_steps"] = steps
    return report


def merge_reports(
    paths: list[Path], labels: list[str | None] | None = None, steps: int | None = None
) -> dict:
    """One report with every mode of `paths`, in their order; refuses a mode twice and
    reports whose episodes differ (a field missing from an older report is not compared).
    A report's label (e.g. the checkpoint) names its columns "mode (label)", so the same
    mode of two checkpoints can sit side by side. `steps`: every report cut at that many
    steps per episode first (`within_steps`), so runs of 500 steps join runs of 150."""
    if not paths:
        raise ReportError("no reports given")
    labels = labels or [None] * len(paths)
    reports = [(path, read_report(path)) for path in paths]
    if steps is not None:
        reports = [(path, within_steps(report, steps, path)) for path, report in reports]
    first_path, first = reports[0]
    merged = {key: first[key] for key in SAME if key in first}
    merged.update(results={}, sources={}, models={})
    for (path, report), label in zip(reports, labels, strict=True):
        if label:
            report["results"] = {f"{m} ({label})": r for m, r in report["results"].items()}
        for key in SAME:
            if key not in report:
                continue
            if key in merged and report[key] != merged[key]:
                raise ReportError(
                    f"{path}: {key} {report[key]!r} differs from {first_path}'s "
                    f"{merged[key]!r}; its episodes are not the same episodes"
                )
            merged[key] = report[key]
        for mode, per_task in report["results"].items():
            if mode in merged["results"]:
                raise ReportError(f"{path}: mode {mode!r} is already in {merged['sources'][mode]}")
            merged["results"][mode] = per_task
            merged["sources"][mode] = str(path)
            merged["models"][mode] = report.get("model")
    merged.update(totals(merged["results"]))
    return merged
