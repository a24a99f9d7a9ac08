"""The planner's tick and the estimator's belief without a graph: ControlLoop and
BeliefTracker on a tiny seeded checkpoint, with real policies and the real filter."""

from __future__ import annotations

import time

import numpy as np
import pytest
from graph_fixtures import make_tiny_checkpoint

from vla_wm_ros.config import ConfigError
from vla_wm_ros.control.belief_tracker import BeliefTracker
from vla_wm_ros.control.control_loop import Belief, ControlLoop, guarded_policy, safe_action
from vla_wm_ros.control.control_policy import ControlPolicy, Decision, make_policy
from vla_wm_ros.control.deadline_guard import DeadlineGuard
from vla_wm_ros.control.input_checks import StreamLimits
from vla_wm_ros.control.loop_settings import LoopSettings
from vla_wm_ros.control.model_runtime import load_model_runtime


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return load_model_runtime(str(make_tiny_checkpoint(tmp_path_factory.mktemp("tiny"))), "cpu")


class Scripted(ControlPolicy):
    """Answers with a set action and status (or raises), recording every call."""

    name = "scripted"

    def __init__(self, action, status: str = "ok", error: Exception | None = None) -> None:
        super().__init__()
        self.action, self.status, self.error = np.asarray(action, float), status, error
        self.calls: list[float] = []  # deadlines
        self.resets: list[str] = []

    def reset(self, goal_id: str) -> None:
        super().reset(goal_id)
        self.resets.append(goal_id)

    def act(self, state, goal, deadline) -> Decision:
        self.calls.append(deadline)
        if self.error is not None:
            raise self.error
        return Decision(self.action.copy(), self.status, "", self.name, uncertainty=0.25)


def _settings(**changes) -> LoopSettings:
    values = dict(
        control_frequency=10.0,
        deadline_fraction=0.6,
        max_latent_age=0.3,
        lockstep=False,
        trigger="timer",
        stats_window=50,
    )
    return LoopSettings(**{**values, **changes})


def _belief(model, goal_id: str = "g1", stamp: float = 0.0, seed: int = 0) -> Belief:
    rng = np.random.default_rng(seed)
    return Belief(
        goal_id,
        rng.standard_normal(model.deter_dim).astype(np.float32),
        rng.standard_normal(model.stoch_dim).astype(np.float32),
        stamp,
        time.monotonic(),
    )


def _loop(model, policy, clock=lambda: 0.0, **settings) -> ControlLoop:
    return ControlLoop(
        model, policy, safe_action([0.0], model.action_dim), _settings(**settings), clock
    )


def _goal(model) -> list[float]:
    return np.random.default_rng(3).standard_normal(model.goal_dim).tolist()


def test_the_watchdog_holds_without_goal_or_fresh_belief(model):
    loop = _loop(model, Scripted(np.full(model.action_dim, 0.5)), max_latent_age=0.05)
    tick = loop.tick()
    assert tick.decision.status == "no_goal" and tick.decision.planner == "safe"
    assert np.all(tick.decision.action == 0.0) and tick.latent_age is None
    assert loop.finish(tick, 0.001)  # the first hold: tell /diagnostics now
    assert loop.health()[0] == "ok" and loop.health()[1].startswith("holding")

    assert loop.set_goal("g1", [0.0] * (model.goal_dim - 1)) is not None  # wrong size
    assert loop.set_goal("g1", _goal(model)) is None
    assert loop.tick().decision.reason == "no belief received yet"
    assert loop.set_belief(_belief(model, goal_id="old")) is None
    tick = loop.tick()
    assert (
        tick.decision.status == "stale_state"
        and "not yet reset for goal g1" in tick.decision.reason
    )
    assert loop.finish(tick, 0.001) and not loop.finish(loop.tick(), 0.001)  # same status
    assert loop.health()[0] == "error"

    loop.set_belief(_belief(model))
    assert loop.tick().decision.status == "ok"
    time.sleep(0.08)
    tick = loop.tick()
    assert tick.decision.status == "stale_state" and "ms old (max 50 ms)" in tick.decision.reason
    assert tick.latent_age >= 0.08


def test_a_planned_action_is_clipped_and_the_policy_reset_per_goal(model):
    policy = Scripted(np.full(model.action_dim, 3.0))
    loop = _loop(model, policy)
    loop.set_goal("g1", _goal(model))
    loop.set_belief(_belief(model))
    tick = loop.tick()
    assert tick.decision.status == "ok" and tick.goal_id == "g1"
    assert np.all(tick.decision.action == 1.0)
    assert not loop.finish(tick, 0.002)
    assert loop.health()[:2] == ("warn", "control rate 0.0 Hz")  # one tick: no rate yet
    loop.tick()
    assert policy.resets == ["g1"]  # once per goal, not per tick
    loop.set_goal("g2", _goal(model))
    loop.set_belief(_belief(model, goal_id="g2"))
    loop.tick()
    assert policy.resets == ["g1", "g2"]


def test_errors_and_uncertain_plans_send_the_safe_action(model):
    failing = _loop(model, Scripted(np.zeros(model.action_dim), error=RuntimeError("boom")))
    failing.set_goal("g1", _goal(model))
    failing.set_belief(_belief(model))
    tick = failing.tick()
    assert tick.decision.status == "error" and tick.decision.reason == "planner failed: boom"
    assert np.all(tick.decision.action == 0.0)

    unsure = _loop(model, Scripted(np.full(model.action_dim, 0.7), status="uncertain"))
    unsure.set_goal("g1", _goal(model))
    unsure.set_belief(_belief(model))
    tick = unsure.tick()
    assert tick.decision.status == "uncertain" and np.all(tick.decision.action == 0.0)
    assert tick.decision.uncertainty == 0.25


def test_lockstep_acts_once_per_belief_and_watch_only_only_on_a_hold(model):
    policy = Scripted(np.full(model.action_dim, 0.1))
    loop = _loop(model, policy, lockstep=True, max_latent_age=0.05)
    assert loop.tick(watch_only=True).decision.status == "no_goal"
    loop.set_goal("g1", _goal(model))
    # No belief for the goal yet: the simulator waits for one, and so does the loop (a
    # hold would be a simulator step put in by the timing of the messages).
    assert loop.tick() is None and loop.tick(watch_only=True) is None
    assert loop.health()[:2] == ("warn", "lock-step, waiting: no belief received yet")
    loop.set_belief(_belief(model))
    assert loop.tick(watch_only=True) is None  # all well: the timer only watches
    time.sleep(0.06)  # older than max_latent_age, but the simulator has not moved
    assert loop.tick().decision.status == "ok"
    assert loop.tick() is None  # no new belief: the simulator waits for this action
    loop.set_belief(_belief(model, seed=1))
    assert loop.tick() is not None and len(policy.calls) == 2


def test_belief_trigger_takes_the_frames_age_off_the_budget(model):
    now = {"t": 100.0}
    policy = Scripted(np.zeros(model.action_dim))
    loop = _loop(model, policy, clock=lambda: now["t"], trigger="belief")
    loop.set_goal("g1", _goal(model))
    for frame_age, spent in ((0.01, 0.01), (0.5, 0.03)):  # at most half the 60 ms budget
        loop.set_belief(_belief(model, stamp=now["t"] - frame_age))
        tick = loop.tick()
        assert policy.calls[-1] - tick.start == pytest.approx(0.06 - spent, abs=1e-6)
    timer = _loop(model, policy, clock=lambda: now["t"])
    timer.set_goal("g1", _goal(model))
    timer.set_belief(_belief(model, stamp=now["t"] - 0.5))
    tick = timer.tick()
    assert policy.calls[-1] - tick.start == pytest.approx(0.06, abs=1e-6)


def test_settings_and_inputs_are_checked(model):
    with pytest.raises(ConfigError, match="safe_action"):
        safe_action([0.0, 2.0], model.action_dim)
    assert safe_action([0.5], 3).tolist() == [0.5, 0.5, 0.5]
    with pytest.raises(ConfigError, match=r"fallback_fraction 0\.5 must not be below"):
        guarded_policy("planner", model, "mppi", "default", 0, _settings(fallback_fraction=0.5))
    guard = guarded_policy("actor", model, "mppi", "default", 0, _settings())
    assert guard.name == "actor" and not isinstance(guard, DeadlineGuard)
    with pytest.raises(ConfigError, match="trigger"):
        _loop(model, make_policy("random", model, "mppi", "", 0), trigger="frames")
    loop = _loop(model, make_policy("random", model, "mppi", "", 0))
    bad = _belief(model)
    bad.deter = bad.deter[:-1]
    assert "expected" in loop.set_belief(bad)
    bad = _belief(model)
    bad.stoch[0] = np.nan
    assert "finite" in loop.set_belief(bad)


# -- BeliefTracker ---------------------------------------------------------------------------


LIMITS = StreamLimits(
    max_joint_age=10.0, max_action_age=10.0, max_frame_age=1.0, max_stamp_lead=0.2
)
NOW = 100.0  # the node clock of the tracker tests, seconds


def _tracker(model, joints=(), frame_timeout=0.15, max_predicted=5, limits=LIMITS, clock=None):
    rejected: list[tuple[str, str]] = []
    tracker = BeliefTracker(
        model,
        list(joints),
        frame_timeout,
        max_predicted,
        lambda w, r: rejected.append((w, r)),
        limits,
        clock or (lambda: NOW),
    )
    return tracker, rejected


def _features(model, seed: int = 0) -> list[float]:
    frame = np.random.default_rng(seed).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    return model.image_features(frame).tolist()


def test_the_tracker_folds_frames_into_one_belief_and_refuses_bad_input(model):
    tracker, rejected = _tracker(model, frame_timeout=10.0)
    assert tracker.add_frame(model.encoder_id, _features(model), "stamp-0", NOW - 0.49) is None
    assert rejected[-1] == ("embedding", "no joint_states received yet")
    tracker.set_joint_states([], [0.0] * (model.proprio_dim + 1))
    assert "the model takes" in rejected[-1][1]
    tracker.set_joint_states([], [np.inf] + [0.0] * (model.proprio_dim - 1))
    assert rejected[-1] == ("joint_states", "non-finite position(s) at 0 (as float32)")
    tracker.set_joint_states([], [0.1] * model.proprio_dim)
    assert tracker.add_frame("someone-else", _features(model), "s", NOW - 0.48) is None
    assert "from encoder 'someone-else'" in rejected[-1][1]
    tracker.set_action([0.0] * (model.action_dim + 1))
    assert rejected[-1][0] == "executed_action"
    count = len(rejected)

    # The goal starts the belief from the frame that came before the joints (still current).
    start = tracker.set_goal("g1")
    assert (start.goal_id, start.step, start.predicted_only, start.stamp) == (
        "g1",
        0,
        False,
        "stamp-0",
    )
    tracker.set_action([0.5] * model.action_dim)
    second = tracker.add_frame(model.encoder_id, _features(model, 1), "stamp-1", NOW - 0.47)
    assert second.step == 1 and not np.allclose(second.deter, start.deter)
    assert len(rejected) == count and tracker.health()[:2] == ("ok", "filtering")
    # A new goal restarts the belief from the newest frame (still current).
    again = tracker.set_goal("g2")
    assert again.goal_id == "g2" and again.step == 0 and again.stamp == "stamp-1"


def test_joint_names_pick_the_models_order(model):
    names = [f"j{i}" for i in range(model.proprio_dim)]
    tracker, rejected = _tracker(model, joints=list(reversed(names)))
    tracker.set_joint_states(names[1:], [1.0] * (model.proprio_dim - 1))
    assert rejected[-1] == ("joint_states", "missing joints j0")
    tracker.set_joint_states(names, [float(i) for i in range(model.proprio_dim)])
    estimate = tracker.add_frame(model.encoder_id, _features(model), "s", NOW - 0.46)
    assert estimate.proprio.tolist() == [float(i) for i in reversed(range(model.proprio_dim))]


def test_a_frame_folds_with_the_joint_state_of_its_own_stamp(model):
    """The encoder's latency lets newer joint states arrive before the frame: the frame
    still takes the newest measured at or before it (as training data pairs them)."""
    tracker, _ = _tracker(model)
    for k in range(3):  # joints measured at NOW - 0.3, - 0.2, - 0.1
        tracker.set_joint_states([], [float(k)] * model.proprio_dim, NOW - 0.3 + 0.1 * k)
    tracker.set_goal("g1")
    first = tracker.add_frame(model.encoder_id, _features(model), "s0", NOW - 0.29)
    assert first.proprio.tolist() == [0.0] * model.proprio_dim
    assert tracker.health()[2]["joint_skew_ms"] == 10.0
    tracker.set_action([0.0] * model.action_dim)
    second = tracker.add_frame(model.encoder_id, _features(model, 1), "s1", NOW - 0.11)
    assert second.proprio.tolist() == [1.0] * model.proprio_dim
    # The filter saw those joints: the same frames folded with the latest joints differ.
    other, _ = _tracker(model)
    other.set_joint_states([], [2.0] * model.proprio_dim)  # unstamped: the latest is taken
    other.set_goal("g1")
    latest = other.add_frame(model.encoder_id, _features(model), "s0", NOW - 0.29)
    assert latest.proprio.tolist() == [2.0] * model.proprio_dim
    assert not np.allclose(latest.deter, first.deter) or not np.allclose(latest.stoch, first.stoch)


def test_late_frames_are_predicted_then_the_belief_is_withheld(model):
    clock = [NOW]
    tracker, _ = _tracker(model, frame_timeout=0.02, max_predicted=2, clock=lambda: clock[0])
    assert tracker.predict_if_late() is None  # nothing to advance yet
    assert tracker.health()[0] == "warn"
    tracker.set_joint_states([], [0.0] * model.proprio_dim)
    tracker.set_action([0.0] * model.action_dim)
    tracker.set_goal("g1")
    tracker.add_frame(model.encoder_id, _features(model), "s", NOW - 0.45)
    assert tracker.predict_if_late() is None  # the frame is current
    # Lateness is measured on the node clock, which the frames are stamped on: a
    # simulator that waits for the planner stops it, and no frame is ever late.
    time.sleep(0.03)
    assert tracker.predict_if_late() is None and tracker.health()[:2] == ("ok", "filtering")
    guesses = []
    for _ in range(4):
        clock[0] += 0.03
        guesses.append(tracker.predict_if_late())
    assert [g.frames_missed for g in guesses[:2]] == [1, 2]
    assert all(g.predicted_only for g in guesses[:2]) and guesses[2:] == [None, None]
    assert tracker.health()[:2] == ("error", "no frames: belief withheld")
    assert tracker.set_goal("g2") is None  # the last frame is too old to restart from
    assert tracker.health()[1] == "waiting for the first frame"


class Shrinking(Scripted):
    """A planner cut short by its deadline: `iterations` done (0: it fell back)."""

    def __init__(self, action, iterations: int) -> None:
        super().__init__(action, "deadline")
        self.iterations = iterations

    def act(self, state, goal, deadline) -> Decision:
        decision = super().act(state, goal, deadline)
        decision.iterations = self.iterations
        decision.reason = f"deadline: stopped after {self.iterations} of 4 iterations"
        return decision


@pytest.mark.parametrize(("iterations", "message"), [(1, "shrunk to"), (0, "fell back")])
def test_a_plan_cut_to_the_tick_is_counted_and_said_on_diagnostics(model, iterations, message):
    loop = _loop(model, Shrinking(np.full(model.action_dim, 0.2), iterations))
    loop.set_goal("g1", _goal(model))
    for seed in range(3):
        loop.set_belief(_belief(model, seed=seed))
        loop.finish(loop.tick(), 0.01)
    level, text, values = loop.health()
    assert level == "warn" and message in text and "stopped after" in text
    shrunk, fell = (3, 0) if iterations else (0, 3)
    assert (values["plans_shrunk"], values["plans_fallen_back"]) == (shrunk, fell)
    assert values["ticks"] == 3
