"""`vla-wm eval combine`: one table and plot from closed-loop reports run as separate jobs.

`vla-wm eval closed-loop --modes planner --json > planner.json` (and so on per mode) lets
each mode run, fail or be repeated on its own; this joins them after checking they met the
same placements (evaluation/report_merge.py).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

NAME = ("eval", "combine")
HELP = "join closed-loop reports of the same episodes into one table and plot"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("reports", nargs="+", type=Path, help="`eval closed-loop --json` files")
    parser.add_argument("--plot", default="", help="PNG of the joined table")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    parser.add_argument("--json", action="store_true", help="print the joined report")


def run(args: argparse.Namespace) -> int:
    from vla_wm_ros.evaluation.closed_loop_report import markdown_table, plot_table, print_table
    from vla_wm_ros.evaluation.report_merge import ReportError, merge_reports

    try:
        report = merge_reports(args.reports)
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
