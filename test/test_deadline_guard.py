"""The planner's hard deadline (no graph): a plan that overruns is abandoned for the actor."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import torch
from graph_fixtures import make_tiny_checkpoint
from timing import Stopwatch

from vla_wm_ros.control.control_policy import ActorPolicy, ControlPolicy, Decision, make_policy
from vla_wm_ros.control.deadline_guard import DeadlineGuard
from vla_wm_ros.control.model_runtime import load_model_runtime


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return load_model_runtime(str(make_tiny_checkpoint(tmp_path_factory.mktemp("tiny"))), "cpu")


@pytest.fixture(scope="module")
def belief(model):
    frame = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    state = model.belief_filter().update(
        model.image_features(frame), np.zeros(model.proprio_dim), np.zeros(model.action_dim)
    )
    goal = np.random.default_rng(1).standard_normal(model.goal_dim).astype(np.float32)
    return state, goal


class StalledPlanner(ControlPolicy):
    """A planner whose plan takes `hold` seconds (a stalled iteration), or until released."""

    name = "stalled"

    def __init__(self, hold: float) -> None:
        super().__init__()
        self.hold = hold
        self.release = threading.Event()
        self.plans = 0
        self.resets: list[str] = []

    def reset(self, goal_id: str) -> None:
        super().reset(goal_id)
        self.resets.append(goal_id)

    def act(self, state, goal, deadline) -> Decision:
        self.release.wait(self.hold)
        self.plans += 1
        return Decision(np.full(4, 0.5), "ok", "", self.name, iterations=3)


def test_a_stalled_plan_is_answered_at_the_hard_deadline_with_the_actors_action(model, belief):
    state, goal = belief
    planner = StalledPlanner(hold=5.0)
    guard = DeadlineGuard(planner, ActorPolicy(model), grace=0.03)
    guard.reset("g1")
    start = time.monotonic()
    decision = guard.act(state, goal, deadline=start + 0.05)
    took = time.monotonic() - start
    assert 0.075 <= took < 0.5, f"answered after {took * 1e3:.0f} ms, hard deadline 80 ms"
    expected = ActorPolicy(model).act(state, goal, start + 1.0)
    np.testing.assert_allclose(decision.action, expected.action, atol=1e-6)
    assert decision.status == "deadline" and decision.planner == "actor"
    assert "30 ms past its deadline" in decision.reason and decision.iterations == 0
    assert guard.abandoned == 1

    # While the abandoned plan still runs, the next tick answers at once, with the actor.
    watch = Stopwatch()
    second = guard.act(state, goal, deadline=watch.start + 0.05)
    assert watch.own_seconds() < 0.05
    assert second.status == "deadline" and "still running" in second.reason
    assert planner.plans == 0 and guard.abandoned == 1

    # Once it is back, its warm start (built on an action never sent) is dropped, and the
    # next plan that returns in time is what the tick sends.
    planner.hold = 0.0
    planner.release.set()
    deadline = time.monotonic() + 0.05
    while planner.plans == 0:
        assert time.monotonic() < deadline + 5.0, "the abandoned plan never finished"
        time.sleep(0.005)
    third = guard.act(state, goal, deadline=time.monotonic() + 0.05)
    assert third.status == "ok" and third.planner == "stalled" and third.iterations == 3
    np.testing.assert_array_equal(third.action, np.full(4, 0.5))
    assert planner.resets == ["g1", "g1"]
    guard.close()


def test_a_plan_back_in_time_is_sent_unchanged(model, belief):
    """The guard adds a thread, not a different plan: same seed, same decisions."""
    state, goal = belief
    bare = make_policy("planner", model, "mppi", "default", seed=3)
    guard = DeadlineGuard(
        make_policy("planner", model, "mppi", "default", seed=3), ActorPolicy(model), grace=5.0
    )
    bare.reset("g")
    guard.reset("g")
    for i in range(3):  # warm-started plans: the guard keeps the planner's state
        # The actor prior's samples come from torch's global generator: the same draws for
        # both (its own generator seeds the planner's Gaussian samples).
        torch.manual_seed(i)
        expected = bare.act(state, goal, None)
        torch.manual_seed(i)
        got = guard.act(state, goal, time.monotonic() + 10.0)
        assert got.status == expected.status == "ok"
        np.testing.assert_allclose(got.action, expected.action, atol=1e-6)
        assert got.iterations == expected.iterations
    assert guard.abandoned == 0 and guard.name == "mppi"
    guard.close()


def test_a_failing_plan_raises_on_the_tick_that_waits_for_it(model, belief):
    class Broken(ControlPolicy):
        name = "broken"

        def act(self, state, goal, deadline):
            raise RuntimeError("NaN in the rollout")

    guard = DeadlineGuard(Broken(), ActorPolicy(model), grace=1.0)
    with pytest.raises(RuntimeError, match="NaN in the rollout"):
        guard.act(*belief, deadline=time.monotonic() + 1.0)
    with pytest.raises(ValueError, match="grace"):
        DeadlineGuard(Broken(), ActorPolicy(model), grace=-0.1)
    guard.close()
