"""Joining closed-loop reports of separate runs: only reports of the same episodes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vla_wm_ros.cli import main
from vla_wm_ros.evaluation.report_merge import ReportError, merge_reports

RUNS = Path(__file__).resolve().parents[1] / "models" / "eval" / "closed_loop_10ep"
ACTOR, PLANNER = RUNS / "actor.json", RUNS / "planner.json"


def test_two_modes_of_the_same_placements_join_with_their_means():
    merged = merge_reports([ACTOR, PLANNER])
    assert list(merged["results"]) == ["actor", "planner"]
    planner = json.loads(PLANNER.read_text())["results"]["planner"]
    rates = [r["success_rate"] for r in planner.values()]
    assert merged["mean_success"]["planner"] == pytest.approx(sum(rates) / len(rates))
    assert merged["sources"]["planner"] == str(PLANNER)
    assert merged["seeds"] == [9000, 9009] and merged["episodes"] == 10


def test_other_placements_or_a_repeated_mode_are_refused_by_name(tmp_path):
    other = json.loads(PLANNER.read_text())
    other["seeds"] = [5000, 5009]
    shifted = tmp_path / "shifted.json"
    shifted.write_text(json.dumps(other))
    with pytest.raises(ReportError, match=r"shifted\.json: seeds"):
        merge_reports([ACTOR, shifted])
    with pytest.raises(ReportError, match="'planner' is already in"):
        merge_reports([PLANNER, PLANNER])
    broken = tmp_path / "broken.json"
    broken.write_text('{"results": ')
    with pytest.raises(ReportError, match=r"broken\.json: not a readable"):
        merge_reports([ACTOR, broken])


def test_the_command_prints_a_markdown_table_and_writes_the_plot(tmp_path, capsys):
    png = tmp_path / "table.png"
    args = ["eval", "combine", str(ACTOR), str(PLANNER), "--markdown", "--plot", str(png)]
    assert main(args) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0] == "| task | actor | planner |"
    assert len(table) == 2 + 10 + 2  # header, ten tasks, mean, deviation
    assert table[-2].startswith("| **mean** | **62 %** |")
    assert png.stat().st_size > 10_000
    assert main(["eval", "combine", str(ACTOR), str(ACTOR)]) == 2


def test_labels_put_one_mode_of_two_checkpoints_side_by_side(tmp_path, capsys):
    """LABEL=FILE names the file's columns 'mode (LABEL)'; a plain path with '=' in its
    name is still a path."""
    merged = merge_reports([ACTOR, ACTOR], ["old", "new"])
    assert list(merged["results"]) == ["actor (old)", "actor (new)"]
    assert merged["mean_success"]["actor (old)"] == merged["mean_success"]["actor (new)"]
    odd = tmp_path / "a=b.json"
    odd.write_text(PLANNER.read_text())
    assert main(["eval", "combine", f"old={ACTOR}", f"new={ACTOR}", str(odd), "--markdown"]) == 0
    header = capsys.readouterr().out.splitlines()[0]
    assert header == "| task | actor (old) | actor (new) | planner |"


def test_longer_runs_join_shorter_ones_cut_at_their_length(tmp_path):
    runs = RUNS.parent / "closed_loop_10ep_500steps_v2"
    planner, actor = runs / "planner.json", runs / "actor.json"
    full = json.loads(planner.read_text())
    assert full["max_steps"] == 500
    short = json.loads(actor.read_text())
    short["max_steps"] = 60  # as if the actor had run 60 steps per episode
    short_path = tmp_path / "short.json"
    short_path.write_text(json.dumps(short))
    with pytest.raises(ReportError, match="max_steps"):
        merge_reports([planner, short_path])
    merged = merge_reports([planner, short_path], steps=60)
    assert merged["max_steps"] == 60
    for task, cut in merged["results"]["planner"].items():
        outcomes = full["results"]["planner"][task]["outcomes"]
        wins = [o["success"] and o["length"] <= 60 for o in outcomes]
        assert cut["success_rate"] == pytest.approx(sum(wins) / len(wins))
        assert max(o["length"] for o in cut["outcomes"]) <= 60
    late = sum(
        o["success"] and o["length"] > 60
        for r in full["results"]["planner"].values()
        for o in r["outcomes"]
    )
    assert late > 0  # some successes came after step 60, and no longer count
    assert merged["mean_success"]["planner"] < merge_reports([planner])["mean_success"]["planner"]
    assert json.loads(planner.read_text()) == full  # the file is not changed
    with pytest.raises(ReportError, match="fewer than 600"):
        merge_reports([planner], steps=600)
