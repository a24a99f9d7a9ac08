"""How a bench command reports: one JSON object with `--json`, else a line per result."""

from __future__ import annotations

import json
from collections.abc import Iterable


def print_report(report: dict, as_json: bool, lines: Iterable[str]) -> int:
    """Print `report` as JSON on stdout, or `lines` (made only when printed); exit code 0."""
    if as_json:
        print(json.dumps(report))
    else:
        for line in lines:
            print(line)
    return 0
