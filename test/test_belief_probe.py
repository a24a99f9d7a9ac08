"""The belief probe tells a goal the camera shows from one it does not.

Two recorded worlds share everything but the pictures: the goal's x (state[36]) is drawn
as the image's brightness in one and not drawn in the other. Probed through a tiny world
model (random weights: its features are still a fixed function of the pixels), the drawn
goal is located well below the error of guessing the mean; the hidden one is not.
"""

from __future__ import annotations

import numpy as np
import pytest
from graph_fixtures import make_tiny_checkpoint

from vla_wm_ros.data.episode import Episode
from vla_wm_ros.data.reader import EpisodeDataset
from vla_wm_ros.data.spec import DatasetSpec
from vla_wm_ros.data.writer import DatasetWriter
from vla_wm_ros.evaluation.belief_probe import ProbeConfig, probe_belief, ridge_cv
from vla_wm_ros.models.checkpoint import load_checkpoint

pytestmark = pytest.mark.usefixtures("single_thread")
STEPS = 8


def embed(names: list[str]) -> np.ndarray:
    return np.ones((len(names), 384), np.float32)


def _world(root, goal_drawn: bool) -> None:
    rng = np.random.default_rng(0)
    spec = DatasetSpec(
        fps=10.0,
        image_shape=(64, 64, 3),
        state_names=["x", "y", "z", "g"],
        action_names=["dx", "dy", "dz", "g"],
        action_low=[-1.0] * 4,
        action_high=[1.0] * 4,
        environment_state_dim=39,
        source="test-probe-world",
    )
    with DatasetWriter(root, spec) as writer:
        for _ in range(20):
            goal = rng.uniform(-0.1, 0.1)
            env_state = np.zeros((STEPS, 39), np.float32)
            env_state[:, 36] = goal
            level = (goal + 0.1) * 5 if goal_drawn else rng.uniform(0, 1)
            noise = rng.integers(0, 8, (STEPS, 64, 64, 3))
            images = np.clip(30 + level * 180 + noise, 0, 255).astype(np.uint8)
            writer.add(
                Episode(
                    images=images,
                    state=np.zeros((STEPS, 4), np.float32),
                    action=np.zeros((STEPS, 4), np.float32),
                    reward=np.zeros(STEPS, np.float32),
                    success=np.zeros(STEPS, bool),
                    done=np.arange(STEPS) == STEPS - 1,
                    terminated=np.zeros(STEPS, bool),
                    timestamp=(np.arange(STEPS) / 10.0).astype(np.float32),
                    instruction="reach the goal",
                    task="reach",
                    environment_state=env_state,
                    policy="expert",
                )
            )


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return load_checkpoint(make_tiny_checkpoint(tmp_path_factory.mktemp("probe") / "ckpt"))


@pytest.mark.parametrize("drawn", [True, False])
def test_a_drawn_goal_is_located_and_a_hidden_one_is_not(model, tmp_path, drawn):
    _world(tmp_path / "data", goal_drawn=drawn)
    cfg = ProbeConfig(targets=("goal",), first_steps=0, folds=5, ridge=30.0)
    report = probe_belief(model, EpisodeDataset(tmp_path / "data"), ["reach"], embed, cfg)
    row = report["tasks"]["reach"]
    assert row["episodes"] == 20
    goal = row["goal"]
    if drawn:
        assert goal["error_cm"] < 0.5 * goal["mean_guess_error_cm"], goal
    else:
        assert goal["error_cm"] > 0.8 * goal["mean_guess_error_cm"], goal


def test_ridge_cv_keeps_an_episode_in_one_fold_and_refuses_empty_folds():
    x = np.arange(12, dtype=float)[:, None]
    groups = np.repeat(np.arange(4), 3)  # 4 episodes, 3 rows each
    pred = ridge_cv(x, 2 * x + 1, groups, folds=2, ridge=1e-9)
    np.testing.assert_allclose(pred, 2 * x + 1, atol=1e-4)  # a line is recovered out of fold
    with pytest.raises(ValueError, match="fold 3 is empty"):
        ridge_cv(x, x, groups % 3, folds=4, ridge=1.0)


def test_the_checkpoints_own_state_heads_are_scored_on_the_same_rows(model, tmp_path):
    """A checkpoint with a state head and a view-state head has both guesses scored; heads
    that always answer the data's mean state score exactly the mean guess's error (and a
    checkpoint without heads reports none)."""
    import dataclasses

    import torch

    from vla_wm_ros.data.layout import ENV_STATE
    from vla_wm_ros.models.world_model import WorldModel

    _world(tmp_path / "data", goal_drawn=True)
    dataset = EpisodeDataset(tmp_path / "data")
    loss = dataclasses.replace(model.cfg.loss, state=1.0, view_state=1.0)
    headed = WorldModel(dataclasses.replace(model.cfg, environment_state_dim=39, loss=loss))
    headed.load_state_dict(model.state_dict(), strict=False)
    mean = dataset.moments()[ENV_STATE].mean
    for head in (headed.state_head, headed.view_state_head):
        last = [m for m in head.net.modules() if isinstance(m, torch.nn.Linear)][-1]
        torch.nn.init.zeros_(last.weight)
        torch.nn.init.zeros_(last.bias)
        head.set_scale(mean, np.ones(39))
    cfg = ProbeConfig(targets=("goal",), first_steps=0, folds=5, ridge=30.0)
    goal = probe_belief(headed, dataset, ["reach"], embed, cfg)["tasks"]["reach"]["goal"]
    for key in ("state_head_cm", "view_head_cm"):
        assert goal[key] == pytest.approx(goal["mean_guess_error_cm"], abs=0.02), goal
    plain = probe_belief(model, dataset, ["reach"], embed, cfg)["tasks"]["reach"]["goal"]
    assert not [k for k in plain if k.endswith("head_cm")]
