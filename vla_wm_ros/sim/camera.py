"""The simulator camera as a ROS camera driver describes it: pinhole intrinsics.

MuJoCo renders through an ideal pinhole: square pixels, principal point at the image
centre, and a vertical field of view per camera (or the model's global one for the free
camera), from which CameraInfo's K and P follow.
"""

from __future__ import annotations

import math


def camera_fovy(model, camera: str) -> float:
    """Vertical field of view (degrees) of `camera` in MuJoCo `model`: a named camera's
    own fovy, or the free camera's global one (the orbit camera)."""
    import mujoco

    cam_id = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, camera)
    return float(model.cam_fovy[cam_id]) if cam_id >= 0 else float(model.vis.global_.fovy)


def pinhole_intrinsics(fovy_deg: float, width: int, height: int) -> tuple[float, ...]:
    """(fx, fy, cx, cy) of MuJoCo's pinhole camera: square pixels, centred principal point."""
    fy = 0.5 * height / math.tan(math.radians(fovy_deg) / 2)
    return fy, fy, (width - 1) / 2, (height - 1) / 2
