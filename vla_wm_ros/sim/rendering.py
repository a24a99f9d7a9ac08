"""Offscreen RGB rendering of a MuJoCo scene, cheap enough for 64x64 data collection.

What makes it fast on a software (llvmpipe/EGL) renderer: no multisampling, and shadows,
reflections and the skybox switched off in the scene flags. Rendering is deterministic:
the same MjData gives the same pixels.
"""

from __future__ import annotations

import os

import mujoco
import numpy as np

from vla_wm_ros.sim.config import NEAR_VIEW, ORBIT, ORBIT_NEAR, OrbitCamera

_CHEAP_FLAGS_OFF = (
    mujoco.mjtRndFlag.mjRND_SHADOW,
    mujoco.mjtRndFlag.mjRND_REFLECTION,
    mujoco.mjtRndFlag.mjRND_SKYBOX,
    mujoco.mjtRndFlag.mjRND_FOG,
    mujoco.mjtRndFlag.mjRND_HAZE,
)


def resize_site(model: mujoco.MjModel, name: str, radius: float) -> None:
    """Draw site `name` as a sphere of `radius` m; a model without it is left as it is.

    Sites have no collision or mass: this changes the pixels only, never the physics.
    """
    site = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, name)
    if site >= 0:
        model.site_type[site] = mujoco.mjtGeom.mjGEOM_SPHERE
        model.site_size[site] = (radius, radius, radius)


def _upright(model: mujoco.MjModel, data: mujoco.MjData, cam_id: int) -> None:
    """Roll a world-fixed camera by 180 degrees if its image 'up' points at the floor.

    Meta-World's corner cameras are mounted upside down (their images were flipped in
    software); rolling the camera itself keeps the image a real camera view.
    """
    if model.cam_bodyid[cam_id] != 0:
        return
    mujoco.mj_camlight(model, data)
    up_world_z = data.cam_xmat[cam_id].reshape(3, 3)[2, 1]
    if up_world_z < 0:
        roll = np.array([0.0, 0.0, 0.0, 1.0])  # 180 deg about the camera's viewing axis
        quat = np.empty(4)
        mujoco.mju_mulQuat(quat, model.cam_quat[cam_id], roll)
        model.cam_quat[cam_id] = quat
        mujoco.mj_camlight(model, data)


class OffscreenRenderer:
    """Renders `data` from one camera into (H, W, 3) uint8 arrays."""

    def __init__(
        self,
        model: mujoco.MjModel,
        data: mujoco.MjData,
        size: int,
        camera: str,
        orbit: OrbitCamera,
        multisamples: int = 0,
    ) -> None:
        model.vis.quality.offsamples = multisamples
        model.vis.global_.offwidth = max(model.vis.global_.offwidth, size)
        model.vis.global_.offheight = max(model.vis.global_.offheight, size)
        self._camera: mujoco.MjvCamera | int = self._resolve(model, data, camera, orbit)
        self._option = mujoco.MjvOption()
        self._renderer = mujoco.Renderer(model, size, size)
        _release_current_context()

    @staticmethod
    def _resolve(model, data, camera: str, orbit: OrbitCamera) -> mujoco.MjvCamera | int:
        if camera in (ORBIT, ORBIT_NEAR):
            orbit = NEAR_VIEW if camera == ORBIT_NEAR else orbit
            cam = mujoco.MjvCamera()
            cam.type = mujoco.mjtCamera.mjCAMERA_FREE
            cam.lookat[:] = orbit.lookat
            cam.distance = orbit.distance
            cam.azimuth = orbit.azimuth
            cam.elevation = orbit.elevation
            return cam
        cam_id = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, camera)
        if cam_id < 0:
            names = [model.camera(i).name for i in range(model.ncam)]
            raise ValueError(
                f"unknown camera {camera!r}; valid: {ORBIT}, {ORBIT_NEAR}, {', '.join(names)}"
            )
        _upright(model, data, cam_id)
        return cam_id

    def render(self, data: mujoco.MjData) -> np.ndarray:
        self._renderer.update_scene(data, camera=self._camera, scene_option=self._option)
        for flag in _CHEAP_FLAGS_OFF:
            self._renderer.scene.flags[flag] = 0
        try:
            return self._renderer.render()
        finally:
            _release_current_context()

    def close(self) -> None:
        self._renderer.close()


def _release_current_context() -> None:
    """Unbind the EGL context from this thread after each use.

    An EGL context can be current in one thread only. ROS executors run callbacks on any
    thread of their pool, so a render in one thread must not leave the context bound
    there, or the next render from another thread fails with EGL_BAD_ACCESS.
    """
    if os.environ.get("MUJOCO_GL", "").lower() != "egl":
        return
    from mujoco.egl import EGL_DISPLAY
    from OpenGL import EGL

    EGL.eglMakeCurrent(EGL_DISPLAY, EGL.EGL_NO_SURFACE, EGL.EGL_NO_SURFACE, EGL.EGL_NO_CONTEXT)
