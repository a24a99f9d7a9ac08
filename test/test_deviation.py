"""The deviation-from-the-actor measure of `vla-wm eval closed-loop`.

Ticks pair with the newest belief of their goal stamped no later than them; the actor's
own actions deviate on no tick, actions moved beyond the tolerance on exactly those ticks.
"""

from __future__ import annotations

import numpy as np
import torch
from graph_fixtures import make_tiny_checkpoint

from vla_wm_ros.evaluation.deviation import (
    BeliefRecord,
    TickRecord,
    actor_deviation,
    pair_ticks,
)
from vla_wm_ros.models.checkpoint import load_checkpoint


def test_ticks_pair_with_the_newest_belief_of_their_goal_not_after_them():
    f = np.zeros(3, np.float32)
    beliefs = [
        BeliefRecord(100, "g", f),
        BeliefRecord(200, "g", f),
        BeliefRecord(150, "other", f),
        BeliefRecord(300, "g", f),
    ]
    ticks = [
        TickRecord(100, "g", f),  # same stamp (sim time): that belief
        TickRecord(250, "g", f),
        TickRecord(299, "g", f),
        TickRecord(160, "other", f),
        TickRecord(50, "g", f),  # before any belief of its goal
        TickRecord(400, "unknown", f),
    ]
    assert pair_ticks(beliefs, ticks) == [0, 1, 1, 2, None, None]


def test_actor_actions_never_deviate_and_moved_ones_do(tmp_path):
    torch.manual_seed(0)
    wm = load_checkpoint(make_tiny_checkpoint(tmp_path / "ckpt"))
    goal = np.random.default_rng(0).standard_normal(wm.cfg.goal_dim).astype(np.float32)
    features = np.random.default_rng(1).standard_normal((6, wm.rssm.feature_dim))
    features = features.astype(np.float32)
    with torch.no_grad():
        own = wm.actor(torch.from_numpy(features), torch.from_numpy(goal)).mode.numpy()
    beliefs = [BeliefRecord(10 * i, "g", features[i]) for i in range(6)]
    same = [TickRecord(10 * i + 5, "g", own[i]) for i in range(6)]
    result = actor_deviation(wm, beliefs, same, goal, tolerance=0.05)
    assert result["paired"] == 6 and result["deviating"] == 0 and result["share"] == 0.0
    moved = own.copy()
    moved[[1, 4], 0] += 0.2  # beyond the tolerance on ticks 1 and 4
    moved[2, 1] += 0.01  # within it
    ticks = [TickRecord(10 * i + 5, "g", moved[i]) for i in range(6)]
    ticks.append(TickRecord(-5, "g", moved[0]))  # no belief yet: unpaired
    result = actor_deviation(wm, beliefs, ticks, goal, tolerance=0.05)
    assert (result["ticks"], result["paired"], result["deviating"]) == (7, 6, 2)
    assert result["share"] == 2 / 6
