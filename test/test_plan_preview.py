"""Plan visualisation without a graph: the imagined path is the world model's own
rollout decoded by its proprioception head, the markers are coloured by its reward head,
and the recorded bag in docs/ draws the PNG in docs/."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from builtin_interfaces.msg import Time
from graph_fixtures import make_tiny_checkpoint

from vla_wm_ros.control.model_runtime import load_model_runtime
from vla_wm_ros.control.plan_preview import can_preview, imagine_path
from vla_wm_ros.ros.plan_markers import plan_markers, plan_path

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return load_model_runtime(str(make_tiny_checkpoint(tmp_path_factory.mktemp("tiny"))), "cpu")


def test_imagined_path_is_the_models_rollout_decoded(model):
    wm = model.world_model
    rng = np.random.default_rng(0)
    deter = rng.standard_normal(model.deter_dim).astype(np.float32)
    stoch = np.asarray(model.state_to_arrays(wm.rssm.initial(1, "cpu"))[1])
    goal = rng.standard_normal(model.goal_dim).astype(np.float32)
    plan = rng.uniform(-1, 1, (4, model.action_dim)).astype(np.float32)
    assert can_preview(model)
    preview = imagine_path(model, deter, stoch, goal, plan[0], plan, horizon=9)
    assert preview.source == "plan" and preview.positions.shape == (5, 3)
    assert preview.rewards.shape == (4,) and np.all(np.isfinite(preview.positions))
    with torch.no_grad():  # the same rollout by hand
        state = model.state_from_arrays(deter, stoch)
        for action in plan[:2]:
            state = wm.rssm.imagine_step(state, model.tensor(action), sample=False)
        second = wm.decoder.proprio(wm.feature(state))[0, :3].numpy()
    assert preview.positions[2] == pytest.approx(second, abs=1e-5)
    actor = imagine_path(model, deter, stoch, goal, plan[0], None, horizon=6)
    assert actor.source == "actor" and actor.positions.shape == (7, 3)
    assert actor.positions[1] == pytest.approx(preview.positions[1], abs=1e-5)  # same 1st

    markers = plan_markers(preview, "world", Time(sec=1), lifetime=1.0).markers
    path = plan_path(preview, "world", Time(sec=1))
    assert len(path.poses) == 5 and path.header.frame_id == "world"
    greens = [c.g for c in markers[0].colors[1:]]
    assert greens[int(np.argmax(preview.rewards))] == pytest.approx(1.0)
    assert greens[int(np.argmin(preview.rewards))] == pytest.approx(0.0)


def test_docs_png_is_drawn_from_the_recorded_bag(tmp_path):
    from vla_wm_ros.commands.plan_view import _draw

    png = tmp_path / "plan.png"
    assert _draw(ROOT / "docs" / "plan_visualisation_bag", png) >= 10
    assert png.stat().st_size > 10_000
