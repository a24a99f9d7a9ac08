"""The simulator camera's intrinsics (sim_bridge's CameraInfo) against MuJoCo's model."""

from __future__ import annotations

import math

import pytest

from vla_wm_ros.sim.camera import pinhole_intrinsics
from vla_wm_ros.sim.env import MetaWorldEnv


def test_pinhole_intrinsics_of_a_90_degree_camera():
    fx, fy, cx, cy = pinhole_intrinsics(90.0, 640, 480)
    assert fx == fy == pytest.approx(240.0)  # half the height over tan(45 deg)
    assert (cx, cy) == (319.5, 239.5)


@pytest.mark.parametrize("camera", ["orbit", "corner2", "gripperPOV"])
def test_env_intrinsics_follow_the_rendering_cameras_field_of_view(camera):
    with MetaWorldEnv(task="reach", seed=0, camera=camera, render=False) as env:
        model = env._env.model
        fovy = (
            model.vis.global_.fovy
            if camera == "orbit"
            else model.cam_fovy[[model.camera(i).name for i in range(model.ncam)].index(camera)]
        )
        fx, fy, cx, cy = env.camera_intrinsics(64, 48)
    assert fy == pytest.approx(24.0 / math.tan(math.radians(fovy) / 2))
    assert fx == fy and (cx, cy) == (31.5, 23.5)
