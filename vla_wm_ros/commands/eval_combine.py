"""`vla-wm eval combine`: one table and plot from closed-loop reports run as separate jobs.

`vla-wm eval closed-loop --modes planner --json > planner.json` (and so on per mode) lets
each mode run, fail or be repeated on its own; this joins them after checking they met the
same placements (evaluation/report_merge.py). `--within-steps` cuts longer runs' episodes
to a shorter run's length first.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

NAME = ("eval", "combine")
HELP = "join closed-loop reports of the same episodes into one table and plot"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "reports",
        nargs="+",
        help="`eval closed-loop --json` files; LABEL=FILE names that file's columns "
        "'mode (LABEL)', to put two checkpoints' runs of one mode side by side",
    )
    parser.add_argument("--plot", default="", help="PNG of the joined table")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    parser.add_argument("--json", action="store_true", help="print the joined report")
    parser.add_argument(
        "--within-steps",
        type=int,
        default=None,
        help="count a success only within this many steps (joins e.g. 500-step runs with "
        "150-step ones; latency and deviation stay the whole runs')",
    )


def _labelled(text: str) -> tuple[Path, str | None]:
    """'LABEL=FILE' -> (FILE, LABEL); an existing FILE, even with '=' in it -> (FILE, None)."""
    label, sep, path = text.partition("=")
    if not sep or Path(text).exists() or not label:
        return Path(text), None
    return Path(path), label


def run(args: argparse.Namespace) -> int:
    from vla_wm_ros.evaluation.closed_loop_report import markdown_table, plot_table, print_table
    from vla_wm_ros.evaluation.report_merge import ReportError, merge_reports

    paths, labels = zip(*(_labelled(text) for text in args.reports), strict=True)
    try:
        report = merge_reports(list(paths), list(labels), args.within_steps)
    except ReportError as exc:
        print(f"vla-wm eval combine: {exc}", file=sys.stderr)
        return 2
    results = report["results"]
    if args.plot:
        plot_table(results, Path(args.plot))
        report["plot"] = args.plot
    if args.json:
        print(json.dumps(report))
    elif args.markdown:
        print(markdown_table(results))
    else:
        print_table(results, list(results), list(next(iter(results.values()))))
    return 0
