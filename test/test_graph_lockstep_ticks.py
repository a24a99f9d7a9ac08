"""Loop statistics that add up: in lock-step, one recorded tick per simulator step.

A graph of its own (not a module rig: two graphs in one domain would hear each other).
"""

from __future__ import annotations

import pytest
from graph_fixtures import make_tiny_checkpoint, start_graph

pytestmark = [pytest.mark.graph, pytest.mark.slow]


def test_lock_step_ticks_add_up_to_the_steps_taken(tmp_path):
    """Every lock-step step is one tick the client recorded (a starved client dropped all
    but the last 10 statuses: '1 of 2 ticks' beside an episode of 500 steps)."""
    from vla_wm_ros.ros.graph_client import GraphClient

    overrides = {
        "sim_bridge": {"step_mode": "on_action", "max_steps": 30},
        "planner": {"lockstep": True},
    }
    graph = start_graph("mujoco", make_tiny_checkpoint(tmp_path / "tiny"), overrides)
    client = GraphClient(context=graph.context)
    try:
        record = client.run_episode("drawer-open", 1, "open the drawer", timeout=120)
    finally:
        client.close()
        graph.close()
    assert record.done and record.length == 30
    ticks = record.ticks()
    assert ticks["total"] == record.length, ticks
    assert ticks["planned"] + ticks["held"] + ticks["before_goal"] == ticks["total"]
    assert ticks["planned"] > 0
