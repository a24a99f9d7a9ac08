"""`vla-wm bench robustness` through a real graph (tiny checkpoint, embedded simulator).

Every case of the corpus must be refused aloud, and nothing the bench counts as a
failure may happen: no node crash, no non-finite command, no planned command on a stale
belief, no unlogged rejection.
"""

from __future__ import annotations

import pytest
from graph_fixtures import make_tiny_checkpoint, start_graph

pytestmark = [pytest.mark.graph, pytest.mark.slow]


def test_the_corpus_is_refused_aloud_with_nothing_crashed_or_silent(tmp_path):
    from vla_wm_ros.ros.robustness import Player, corpus

    graph = start_graph("mujoco", make_tiny_checkpoint(tmp_path / "tiny"))
    player = Player(graph)
    try:
        assert player.start_goal(), "the graph never planned"
        model = graph.nodes["planner"]._loop.model
        cases = corpus(model.proprio_dim, model.action_dim, model.goal_dim)
        report = player.play(cases, lambda case, ok: None)
    finally:
        player.close()
        graph.close()
    assert report["failures"] == [], report["failures"]
    assert report["cases"] == len(cases) and report["commands"] > 0
    classes = {"image", "stamp", "joint_states", "executed_action", "goal", "instruction"}
    assert classes | {"service", "fault"} == set(report["by_class"])
    for key in ("node_crashes", "non_finite_commands", "stale_commands", "unlogged_rejections"):
        assert report[key] == 0, key
    assert report["callback_failures"] >= 1  # the reset that raised, caught by the guard
