"""A checkpoint's observation record: written by training, rendered again by its users.

Real Meta-World data collected with a 0.05 m goal marker trains a tiny world model (two
world-model steps: the record is what matters here); the simulators built for that
checkpoint (eval actor, dagger, sim_bridge) draw the same marker, the shipped checkpoint
(no record) keeps Meta-World's defaults, and forced differences are named.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from data_fixtures import colour_world

from vla_wm_ros import paths
from vla_wm_ros.data.collect import Job, collect
from vla_wm_ros.data.reader import EpisodeDataset
from vla_wm_ros.evaluation.actor_rollout import actor_env
from vla_wm_ros.sim.env import MetaWorldEnv
from vla_wm_ros.sim.observation import (
    OWN_MARKER,
    ObservationSpec,
    model_dir_observation,
    read_observation,
    simulator_observation,
)
from vla_wm_ros.training.config import StageConfig, load_train_preset
from vla_wm_ros.training.trainer import MODEL_DIR, TrainError, train

pytestmark = pytest.mark.usefixtures("single_thread")
BIG = ObservationSpec("metaworld", "orbit", 64, 0.05)


@pytest.fixture(scope="module")
def big_marker_data(tmp_path_factory) -> Path:
    """Three expert reach episodes of 32 steps, drawn with a 0.05 m goal marker."""
    out = tmp_path_factory.mktemp("big") / "data"
    jobs = [Job("reach", n, "expert", 0, 32, 64, "orbit", False, 0.05) for n in range(3)]
    collect(out, jobs, workers=1, progress=False)
    return out


def _tiny_config():
    return dataclasses.replace(
        load_train_preset("tiny"),
        val_fraction=0.34,
        checkpoint_every=1000,
        world_model=StageConfig(steps=2, batch_size=2, seq_len=8, lr=1e-3),
    )


@pytest.fixture(scope="module")
def big_marker_model(big_marker_data, embedder, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("run") / "big"
    train(big_marker_data, out, _tiny_config(), ["world_model"], progress=False, embedder=embedder)
    return out / MODEL_DIR


def _first_frame(env: MetaWorldEnv, seed: int = 5) -> np.ndarray:
    with env:
        return env.reset(seed=seed).image


def test_training_records_the_rendering_of_its_data(big_marker_model):
    meta = yaml.safe_load((big_marker_model / "meta.yaml").read_text())
    assert meta["observation"] == {
        "source": "metaworld",
        "camera": "orbit",
        "image_size": 64,
        "goal_marker_radius": 0.05,
    }
    assert read_observation(big_marker_model) == BIG
    run = yaml.safe_load((big_marker_model.parent / "run.yaml").read_text())
    assert run["observation"] == meta["observation"]


def test_resuming_on_data_rendered_otherwise_is_refused(
    big_marker_model, big_marker_data, embedder, tmp_path
):
    import shutil

    other = tmp_path / "run"
    shutil.copytree(big_marker_model.parent, other)
    run = yaml.safe_load((other / "run.yaml").read_text())
    run["observation"]["goal_marker_radius"] = None
    (other / "run.yaml").write_text(yaml.safe_dump(run))
    with pytest.raises(TrainError, match="two renderings"):
        train(big_marker_data, other, _tiny_config(), resume=True, embedder=embedder)


def test_the_actor_env_of_the_checkpoint_draws_its_bigger_marker(big_marker_model, big_marker_data):
    env = actor_env("reach", read_observation(big_marker_model), 20)
    assert env.config.goal_marker_radius == 0.05
    frame = _first_frame(env)
    big = _first_frame(MetaWorldEnv(task="reach", max_steps=20, goal_marker_radius=0.05))
    own = _first_frame(MetaWorldEnv(task="reach", max_steps=20))
    np.testing.assert_array_equal(frame, big)
    assert np.any(frame != own, axis=-1).sum() >= 4
    # ... and so do the images the collector stored, which the model trained on.
    assert EpisodeDataset(big_marker_data).spec.extra == {"goal_marker_radius": 0.05}


def test_eval_actor_cli_renders_as_the_checkpoint_and_warns_when_forced(big_marker_model, capsys):
    from vla_wm_ros.cli import main

    args = ["eval", "actor", "--ckpt", str(big_marker_model), "--tasks", "reach"]
    args += ["--episodes", "1", "--max-steps", "2", "--json"]
    assert main(args) == 0
    out, err = capsys.readouterr()
    assert json.loads(out.splitlines()[-1])["observation"] == BIG.to_meta()
    assert "warning" not in err
    assert main([*args, "--camera", "corner"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out.splitlines()[-1])["observation"]["camera"] == "corner"
    assert "camera 'corner' differs from 'orbit'" in err and str(big_marker_model) in err


def test_dagger_cli_rolls_out_in_the_checkpoints_rendering(
    big_marker_model, big_marker_data, tmp_path
):
    from vla_wm_ros.cli import main
    from vla_wm_ros.models.checkpoint import read_meta

    out = tmp_path / "dagger"
    args = ["dagger", "--ckpt", str(big_marker_model), "--data", str(big_marker_data)]
    args += ["--out", str(out), "--tasks", "reach", "--rounds", "1", "--episodes", "1"]
    args += ["--max-steps", "32", "--bc-steps", "1", "--threads", "1"]
    assert main(args) == 0
    meta = read_meta(out)
    assert meta["dagger_runs"][-1]["observation"] == BIG.to_meta()
    assert read_observation(out) == BIG  # the refined checkpoint keeps the record


def test_a_checkpoint_without_a_record_sees_metaworlds_defaults(tmp_path):
    from graph_fixtures import make_tiny_checkpoint

    bare = make_tiny_checkpoint(tmp_path / "bare")  # saved with no observation block
    assert read_observation(bare) == ObservationSpec("metaworld", "orbit", 64, None)


def test_the_shipped_checkpoint_records_the_goal_marker_it_was_trained_on():
    shipped = paths.models_dir() / paths.DEFAULT_MODEL
    if not (shipped / "config.yaml").is_file():
        pytest.skip("no shipped model in this checkout")
    assert read_observation(shipped) == BIG  # trained on mt10_v3: 0.05 m goal markers
    seen, warnings = model_dir_observation("")  # "": the shipped model
    assert seen == BIG and warnings == []


def test_sim_bridge_settings_follow_the_model_and_name_what_is_forced(big_marker_model):
    seen, warnings = model_dir_observation(str(big_marker_model))
    assert seen == BIG and warnings == []
    assert seen.sim_kwargs() == {"camera": "orbit", "image_size": 64, "goal_marker_radius": 0.05}
    own, warnings = model_dir_observation(str(big_marker_model), goal_marker_radius=OWN_MARKER)
    assert own.goal_marker_radius is None
    assert len(warnings) == 1 and "None (Meta-World's own marker)" in warnings[0]
    assert "0.05" in warnings[0]
    forced, warnings = model_dir_observation(str(big_marker_model), "corner", 32, 0.08)
    assert (forced.camera, forced.image_size, forced.goal_marker_radius) == ("corner", 32, 0.08)
    assert len(warnings) == 3
    with pytest.raises(FileNotFoundError, match="no world-model checkpoint"):
        model_dir_observation(str(big_marker_model.parent / "missing"))


def test_data_from_elsewhere_gets_the_simulators_view_with_a_warning(tmp_path):
    colour_world(tmp_path / "colour", episodes=2, steps=4, size=16, seed=0)
    recorded = ObservationSpec.of_dataset(EpisodeDataset(tmp_path / "colour").spec)
    assert (recorded.source, recorded.image_size) == ("test-colour-world", 16)
    seen, warnings = simulator_observation(recorded, "ckpt")
    assert seen == ObservationSpec(image_size=16)
    assert len(warnings) == 1 and "test-colour-world images" in warnings[0]


@pytest.mark.graph
def test_sim_bridge_node_renders_as_the_model_it_is_given(big_marker_model, ros_context):
    from rclpy.parameter import Parameter

    from vla_wm_ros.nodes.sim_bridge import SimBridge

    node = SimBridge(
        context=ros_context,
        parameter_overrides=[
            Parameter("model_dir", value=str(big_marker_model)),
            Parameter("task", value="reach"),
            Parameter("seed", value=5),
            Parameter("step_mode", value="on_action"),
        ],
    )
    try:
        assert node.observation == BIG
        env = node._sim.env
        assert env.config.goal_marker_radius == 0.05
        big = _first_frame(MetaWorldEnv(task="reach", goal_marker_radius=0.05))
        np.testing.assert_array_equal(env.render(), big)
    finally:
        node.destroy_node()
