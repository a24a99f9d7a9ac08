"""The world model as the nodes use it (no graph): encoder split, belief filter, policies."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch
from graph_fixtures import make_tiny_checkpoint

from vla_wm_ros.control.model_runtime import load_model_runtime


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return load_model_runtime(str(make_tiny_checkpoint(tmp_path_factory.mktemp("tiny"))), "cpu")


def _frame(seed: int, size: int = 64) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)


def _embed(model, rgb: np.ndarray, proprio: np.ndarray) -> torch.Tensor:
    """The whole encoder on one frame: what the two nodes' halves must add up to."""
    image = torch.from_numpy(rgb).permute(2, 0, 1)[None]
    with torch.no_grad():
        return model.world_model.encode(image, model.tensor(proprio))


def test_camera_and_estimator_halves_compose_to_the_encoder(model):
    rgb, proprio = _frame(0), np.array([0.1, -0.2, 0.3, 0.5], dtype=np.float32)
    features = model.image_features(rgb)
    assert features.shape == (model.embedding_dim,) and features.dtype == np.float32
    split = model.belief_filter().update(features, proprio, np.zeros(model.action_dim))
    rssm = model.world_model.rssm
    with torch.no_grad():
        zero = torch.zeros(1, model.action_dim)
        whole = rssm.obs_step(rssm.initial(1), zero, _embed(model, rgb, proprio), sample=False)[0]
    torch.testing.assert_close(split.deter, whole.deter)
    torch.testing.assert_close(split.stoch, whole.stoch)


def test_belief_is_carried_across_frames_not_re_encoded_from_zero(model):
    rssm = model.world_model.rssm
    belief = model.belief_filter()
    assert not belief.started
    with pytest.raises(RuntimeError, match="before the first frame"):
        belief.predict(np.zeros(model.action_dim))
    proprio = np.zeros(model.proprio_dim, dtype=np.float32)
    action = np.array([0.5, -0.5, 0.25, 1.0], dtype=np.float32)
    f1, f2 = model.image_features(_frame(1)), model.image_features(_frame(2))
    embed1, embed2 = _embed(model, _frame(1), proprio), _embed(model, _frame(2), proprio)

    first = belief.update(f1, proprio, action)  # the first frame ignores the action
    with torch.no_grad():
        zero = torch.zeros(1, model.action_dim)
        expected = rssm.obs_step(rssm.initial(1), zero, embed1, torch.tensor([True]), sample=False)[
            0
        ]
    torch.testing.assert_close(first.deter, expected.deter)

    second = belief.update(f2, proprio, action)
    with torch.no_grad():
        carried = rssm.obs_step(expected, model.tensor(action), embed2, sample=False)[0]
        from_zero = rssm.obs_step(
            rssm.initial(1), zero, embed2, torch.tensor([True]), sample=False
        )[0]
    torch.testing.assert_close(second.deter, carried.deter)
    torch.testing.assert_close(second.stoch, carried.stoch)
    assert not torch.allclose(second.deter, from_zero.deter), "belief restarted from zero"

    predicted = belief.predict(action)
    with torch.no_grad():
        prior = rssm.imagine_step(carried, model.tensor(action), sample=False)
    torch.testing.assert_close(predicted.deter, prior.deter)
    assert belief.steps == 3
    belief.reset()
    assert not belief.started and belief.steps == 0


def test_state_round_trips_through_message_arrays(model):
    belief = model.belief_filter()
    state = belief.update(
        model.image_features(_frame(3)), np.zeros(model.proprio_dim), np.zeros(model.action_dim)
    )
    deter, stoch = model.state_to_arrays(state)
    assert deter.shape == (model.deter_dim,) and stoch.shape == (model.stoch_dim,)
    back = model.state_from_arrays(deter.tolist(), stoch.tolist())
    torch.testing.assert_close(back.deter, state.deter)


def test_model_is_loaded_once_per_checkpoint_and_missing_models_are_named(tmp_path):
    path = make_tiny_checkpoint(tmp_path / "ckpt")
    first = load_model_runtime(str(path), "cpu")
    assert load_model_runtime(str(path), "cpu") is first  # the nodes of a process share it
    assert len(first.encoder_id) == 16
    torch.manual_seed(1)
    from vla_wm_ros.models.checkpoint import save_checkpoint
    from vla_wm_ros.models.world_model import WorldModel

    save_checkpoint(WorldModel(first.world_model.cfg), path)  # new weights, same place
    second = load_model_runtime(str(path), "cpu")
    assert second is not first and second.encoder_id != first.encoder_id
    with pytest.raises(FileNotFoundError, match="nothing: no world-model checkpoint"):
        load_model_runtime(str(tmp_path / "nothing"), "cpu")


@pytest.mark.parametrize("mode", ["planner", "actor", "random"])
def test_every_mode_answers_within_bounds_and_deadline(model, mode):
    from vla_wm_ros.control.control_policy import make_policy

    policy = make_policy(mode, model, "mppi", "default", seed=0)
    policy.reset("goal-1")
    belief = model.belief_filter()
    state = belief.update(
        model.image_features(_frame(4)), np.zeros(model.proprio_dim), np.zeros(model.action_dim)
    )
    goal = np.random.default_rng(0).standard_normal(model.goal_dim).astype(np.float32)
    start = time.monotonic()
    decision = policy.act(state, goal, deadline=start + 0.08)
    elapsed = time.monotonic() - start
    assert decision.action.shape == (model.action_dim,)
    assert np.all(np.abs(decision.action) <= 1.0) and np.all(np.isfinite(decision.action))
    assert decision.status in ("ok", "deadline")
    assert decision.planner == {"planner": "mppi"}.get(mode, mode)
    assert elapsed < 0.5
