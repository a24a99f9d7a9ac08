"""The goal marker's drawn size: a rendering setting that changes pixels, never physics."""

from __future__ import annotations

import numpy as np
import pytest

from vla_wm_ros.config.loader import ConfigError
from vla_wm_ros.data.collect import dataset_spec
from vla_wm_ros.sim.config import SimConfig
from vla_wm_ros.sim.env import MetaWorldEnv

ACTIONS = np.random.default_rng(0).uniform(-1, 1, (12, 4)).astype(np.float32)


def _episode(radius: float | None, camera: str = "orbit") -> tuple[list[np.ndarray], np.ndarray]:
    with MetaWorldEnv(
        task="reach", seed=0, max_steps=20, goal_marker_radius=radius, camera=camera
    ) as env:
        frames = [env.reset(seed=5).image]
        for action in ACTIONS:
            frames.append(env.step(action).obs.image)
        return frames, env.state.copy()


def test_a_larger_goal_marker_covers_more_pixels_and_leaves_the_physics_alone():
    own, own_state = _episode(None)
    big, big_state = _episode(0.05)
    np.testing.assert_array_equal(own_state, big_state)  # same trajectory, same goal
    changed = np.any(own[0] != big[0], axis=-1)
    # The marker grows from 1-2 pixels to a disc of several pixels at 64x64.
    assert 4 <= int(changed.sum()) <= 200
    same = _episode(None)[0]
    assert all(np.array_equal(a, b) for a, b in zip(own, same, strict=True))


def test_the_near_view_draws_the_scene_larger_from_the_same_physics():
    marker = {}
    for camera in ("orbit", "orbit-near"):
        own, own_state = _episode(None, camera)
        big, _ = _episode(0.05, camera)
        marker[camera] = int(np.any(own[0] != big[0], axis=-1).sum())
        if camera == "orbit":
            far_state, far_frame = own_state, own[0]
    np.testing.assert_array_equal(own_state, far_state)  # a camera changes pixels only
    assert not np.array_equal(own[0], far_frame)
    assert marker["orbit-near"] >= 1.5 * marker["orbit"], marker


def test_goal_marker_radius_is_checked():
    with pytest.raises(ConfigError, match="goal_marker_radius"):
        SimConfig(goal_marker_radius=0.0).validate()
    with pytest.raises(ConfigError, match="goal_marker_radius"):
        SimConfig(goal_marker_radius=1.0).validate()


def test_datasets_drawn_with_different_markers_do_not_mix():
    own = dataset_spec("reach", 64, "orbit")
    big = dataset_spec("reach", 64, "orbit", goal_marker_radius=0.05)
    assert big.extra == {"goal_marker_radius": 0.05}
    assert own.mismatches(own) == [] and big.mismatches(big) == []
    assert any("goal_marker_radius" in p for p in own.mismatches(big))


@pytest.mark.parametrize("task", ["reach", "peg-insert-side", "window-close"])
def test_the_first_frame_and_state_show_this_placement_not_the_previous_one(task):
    # Meta-World moves the goal site and fixtures at reset without a kinematics pass; the
    # first frame and state must already show them where the new placement put them.
    import mujoco

    with MetaWorldEnv(task=task, seed=0, goal_marker_radius=0.05) as env:
        for seed in (5, 6):
            first = env.reset(seed=seed).image
            state = env.state.copy()
            mujoco.mj_forward(env._env.model, env._env.data)
            np.testing.assert_array_equal(first, env.render())
            np.testing.assert_allclose(env._env._get_obs()[:18], state[:18], atol=1e-9)
            np.testing.assert_array_equal(state[18:36], state[:18])
            goal = env._env.data.site("goal").xpos
            np.testing.assert_allclose(goal, state[36:39], atol=1e-6)
