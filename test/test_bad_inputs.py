"""The project's own bad-input corpus, by class, against the ROS-free mechanisms.

Each class is checked where its mechanism lives: values after the cast to the model's
float32 (control/input_checks), frame stamps and per-stream staleness (BeliefTracker),
a belief that turns non-finite (reset, said), beliefs the planner is given (ControlLoop),
instructions a ROS string would cut at NUL (GraphClient), tampered checkpoints
(models/checkpoint). Graph-level faults are in test_graph_faults / test_graph_robustness.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from graph_fixtures import make_tiny_checkpoint

from vla_wm_ros.control.belief_tracker import BeliefTracker
from vla_wm_ros.control.control_loop import Belief, ControlLoop
from vla_wm_ros.control.control_policy import ActorPolicy
from vla_wm_ros.control.input_checks import StampCheck, StreamLimits, as_model_values
from vla_wm_ros.control.loop_settings import LoopSettings
from vla_wm_ros.control.model_runtime import load_model_runtime

NOW = 1_000.0  # node clock of these tests, seconds


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    directory = make_tiny_checkpoint(tmp_path_factory.mktemp("tiny"))
    return load_model_runtime(str(directory), "cpu", "eager", "")


def _tracker(model, joints=(), joint_age=10.0, action_age=10.0):
    rejected: list[tuple[str, str]] = []
    limits = StreamLimits(joint_age, action_age, max_frame_age=1.0, max_stamp_lead=0.2)
    tracker = BeliefTracker(
        model, list(joints), 10.0, 5, lambda w, r: rejected.append((w, r)), limits, lambda: NOW
    )
    return tracker, rejected


def _features(model, seed=0):
    frame = np.random.default_rng(seed).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    return model.image_features(frame).tolist()


def _started(model, **limits):
    tracker, rejected = _tracker(model, **limits)
    features = _features(model)
    tracker.set_joint_states([], [0.1] * model.proprio_dim)
    tracker.set_action([0.0] * model.action_dim)
    tracker.set_goal("g")
    assert tracker.add_frame(model.encoder_id, features, "s0", NOW - 0.1) is not None
    return tracker, rejected


# -- values: checked as the model's float32 --------------------------------------------------


def test_values_finite_in_float64_but_not_float32_are_rejected(model):
    tracker, rejected = _tracker(model)
    tracker.set_joint_states([], [1e300] + [0.0] * (model.proprio_dim - 1))
    assert rejected[-1] == ("joint_states", "non-finite position(s) at 0 (as float32)")
    tracker.set_action([0.0, -1e300] + [0.0] * (model.action_dim - 2))
    assert rejected[-1] == ("executed_action", "non-finite value(s) at 1 (as float32)")
    values, problem = as_model_values([1.0, 3e38], "x")
    assert problem is None and values.dtype == np.float32


def test_a_belief_of_float64_values_overflowing_float32_is_refused_by_the_planner(model):
    loop = ControlLoop(
        model,
        ActorPolicy(model),
        np.zeros(model.action_dim),
        LoopSettings(stats_window=10),
        lambda: NOW,
    )
    deter = np.zeros(model.deter_dim)
    deter[3] = 1e300
    belief = Belief("g", deter, np.zeros(model.stoch_dim), NOW, time.monotonic())
    assert "finite" in loop.set_belief(belief)


def test_a_non_finite_belief_resets_itself_and_says_so(model):
    tracker, rejected = _started(model)
    # Finite float32 features this large overflow inside the filter's layers.
    huge = [3e38] * model.embedding_dim
    assert tracker.add_frame(model.encoder_id, huge, "s1", NOW - 0.05) is None
    assert rejected[-1][0] == "belief" and "reset" in rejected[-1][1]
    assert tracker.belief_resets == 1 and tracker.health()[2]["belief_resets"] == 1
    again = tracker.add_frame(model.encoder_id, _features(model, 1), "s2", NOW - 0.04)
    assert again is not None and again.step == 0, "the next frame did not start a new belief"
    assert np.all(np.isfinite(again.deter))


# -- stamps ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stamp", "reason"),
    [
        (0.0, "stamp is zero (unset)"),
        (NOW + 5.0, "ahead of the clock"),
        (1.0, "s old (limit 1 s)"),  # 1970
        (NOW - 0.2, "is not after the previous frame's"),  # backwards
        (NOW - 0.1, "is not after the previous frame's"),  # repeated
    ],
)
def test_bad_frame_stamps_are_rejected_with_a_reason(model, stamp, reason):
    tracker, rejected = _started(model)
    assert tracker.add_frame(model.encoder_id, _features(model), "bad", stamp) is None
    assert rejected[-1][0] == "embedding" and reason in rejected[-1][1], rejected[-1]
    assert tracker.add_frame(model.encoder_id, _features(model), "ok", NOW - 0.05) is not None


def test_a_clock_that_jumps_back_restarts_the_stamp_order():
    check = StampCheck(max_age=1.0, max_lead=0.2)
    assert check.check(50.0, 50.0) is None
    assert check.check(0.5, 0.5) is None, "a restarted simulator clock never recovers"


# -- joint names -----------------------------------------------------------------------------


@pytest.mark.parametrize("joints", [(), ("j0", "j1", "j2", "j3")])
def test_name_and_position_counts_must_agree_in_every_profile(model, joints):
    tracker, rejected = _tracker(model, joints=joints)
    names = [f"j{i}" for i in range(model.proprio_dim)]
    tracker.set_joint_states(names, [0.0] * (model.proprio_dim + 1))
    assert rejected and rejected[-1] == (
        "joint_states",
        f"{model.proprio_dim} names but {model.proprio_dim + 1} positions",
    )


# -- staleness per stream --------------------------------------------------------------------


def test_stale_joint_states_withhold_the_belief_while_the_camera_runs(model):
    tracker, rejected = _started(model, joint_age=1.0)
    time.sleep(1.1)
    tracker.set_action([0.0] * model.action_dim)
    assert tracker.add_frame(model.encoder_id, _features(model, 1), "s1", NOW - 0.05) is None
    assert "joint_states stale" in rejected[-1][1]
    assert tracker.predict_if_late() is None, "a prior-only belief on stale joints"
    level, message, _ = tracker.health()
    assert level == "error" and "joint_states stale" in message
    tracker.set_joint_states([], [0.2] * model.proprio_dim)
    fresh = tracker.add_frame(model.encoder_id, _features(model, 2), "s2", NOW - 0.04)
    assert fresh is not None, rejected[-1]
    assert tracker.health()[0] == "ok"


def test_a_stale_executed_action_withholds_the_belief(model):
    tracker, rejected = _started(model, action_age=1.0)
    time.sleep(1.1)
    tracker.set_joint_states([], [0.2] * model.proprio_dim)
    assert tracker.add_frame(model.encoder_id, _features(model, 1), "s1", NOW - 0.05) is None
    assert "executed_action stale" in rejected[-1][1]


# -- instructions ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["open the door\x00; also open the window", "open\x00", "open the\x1b[31m drawer"]
)
def test_instructions_with_control_characters_are_refused_before_they_are_cut(text):
    from vla_wm_ros.ros.graph_client import GraphClient

    client = GraphClient()
    try:
        reply = client.set_goal(text, timeout=1.0)
    finally:
        client.close()
    assert not reply.accepted and "control character U+00" in reply.message, reply.message
