"""ROS 2 messages (as rosbags deserialises them) <-> the arrays of an episode.

Each reader names the bag and topic in its errors, so a message the stack cannot use says
which recording and which stream to fix.
"""

from __future__ import annotations

import cv2
import numpy as np

from vla_wm_ros.data.layout import DatasetError

IMAGE_TYPES = ("sensor_msgs/msg/Image", "sensor_msgs/msg/CompressedImage")
JOINT_TYPES = ("sensor_msgs/msg/JointState",)
ARRAY_TYPES = ("std_msgs/msg/Float64MultiArray", "std_msgs/msg/Float32MultiArray")
TWIST_TYPES = ("geometry_msgs/msg/Twist", "geometry_msgs/msg/TwistStamped")
TRAJECTORY_TYPES = ("trajectory_msgs/msg/JointTrajectory",)
# Every action sink the planner publishes to (docs/ARCHITECTURE.md) reads back.
ACTION_TYPES = ARRAY_TYPES + JOINT_TYPES + TWIST_TYPES + TRAJECTORY_TYPES
SCALAR_TYPES = ("std_msgs/msg/Float32", "std_msgs/msg/Float64", "std_msgs/msg/Bool")
TEXT_TYPES = ("std_msgs/msg/String",)
CAMERA_INFO_TYPES = ("sensor_msgs/msg/CameraInfo",)
TWIST_NAMES = ["linear_x", "linear_y", "linear_z", "angular_x", "angular_y", "angular_z"]

# Raw encodings: (channels, dtype, channel order to RGB).
_RAW = {
    "rgb8": (3, np.uint8, [0, 1, 2]),
    "bgr8": (3, np.uint8, [2, 1, 0]),
    "rgba8": (4, np.uint8, [0, 1, 2]),
    "bgra8": (4, np.uint8, [2, 1, 0]),
    "mono8": (1, np.uint8, [0, 0, 0]),
    "mono16": (1, np.uint16, [0, 0, 0]),
}


def stamp_ns(msg) -> int | None:
    """The header stamp of `msg` in ns, or None when it has no header or a zero stamp."""
    header = getattr(msg, "header", None)
    if header is None:
        return None
    ns = int(header.stamp.sec) * 1_000_000_000 + int(header.stamp.nanosec)
    return ns or None


def image_rgb(msg, msgtype: str, where: str) -> np.ndarray:
    """(H, W, 3) uint8 RGB from an Image (rgb8, bgr8, rgba8, bgra8, mono8, mono16) or a
    CompressedImage (jpeg, png)."""
    if msgtype == "sensor_msgs/msg/CompressedImage":
        fmt = msg.format.lower()
        if "jpeg" not in fmt and "jpg" not in fmt and "png" not in fmt:
            raise DatasetError(f"{where}: compressed format {msg.format!r} (only jpeg and png)")
        bgr = cv2.imdecode(np.frombuffer(bytes(msg.data), np.uint8), cv2.IMREAD_COLOR)
        if bgr is None:
            raise DatasetError(f"{where}: a {msg.format!r} image does not decode")
        return np.ascontiguousarray(bgr[..., ::-1])
    spec = _RAW.get(msg.encoding)
    if spec is None:
        raise DatasetError(
            f"{where}: image encoding {msg.encoding!r} is not supported ({', '.join(_RAW)})"
        )
    channels, dtype, order = spec
    itemsize = np.dtype(dtype).itemsize
    raw = np.frombuffer(bytes(msg.data), dtype=np.uint8)
    if msg.height * msg.step != raw.size or msg.step < msg.width * channels * itemsize:
        raise DatasetError(f"{where}: image of {raw.size} bytes does not match its header")
    rows = raw.reshape(msg.height, msg.step)[:, : msg.width * channels * itemsize]
    pixels = rows.copy().view(np.dtype(dtype).newbyteorder(">" if msg.is_bigendian else "<"))
    pixels = pixels.reshape(msg.height, msg.width, channels)
    if dtype is np.uint16:
        pixels = (pixels >> 8).astype(np.uint8)
    return np.ascontiguousarray(pixels[..., order])


def joint_positions(msg, names: list[str], where: str) -> np.ndarray:
    """Positions of the joints `names`, in that order, from a JointState."""
    index = {name: i for i, name in enumerate(msg.name)}
    missing = [n for n in names if n not in index]
    if missing:
        raise DatasetError(f"{where}: no joint {missing} in JointState (has {list(msg.name)})")
    if len(msg.position) != len(msg.name):
        raise DatasetError(
            f"{where}: JointState has {len(msg.name)} names but {len(msg.position)} positions"
        )
    return np.asarray([msg.position[index[n]] for n in names], dtype=np.float32)


def action_vector(msg, msgtype: str, names: list[str], where: str) -> np.ndarray:
    """The commanded action: array data, JointState (or a JointTrajectory's first point)
    positions by name, or twist axes."""
    if msgtype in ARRAY_TYPES:
        return np.asarray(msg.data, dtype=np.float32)
    if msgtype in JOINT_TYPES:
        return joint_positions(msg, names or list(msg.name), where)
    if msgtype in TRAJECTORY_TYPES:
        if not msg.points:
            raise DatasetError(f"{where}: JointTrajectory without points")
        index = {name: i for i, name in enumerate(msg.joint_names)}
        missing = [n for n in names if n not in index]
        if missing:
            raise DatasetError(f"{where}: no joint {missing} in JointTrajectory {list(index)}")
        first = msg.points[0].positions
        return np.asarray([first[index[n]] for n in names or index], dtype=np.float32)
    twist = msg.twist if msgtype == "geometry_msgs/msg/TwistStamped" else msg
    lin, ang = twist.linear, twist.angular
    return np.asarray([lin.x, lin.y, lin.z, ang.x, ang.y, ang.z], dtype=np.float32)


def action_names_of(msg, msgtype: str) -> list[str]:
    """Names a message gives its action elements ([] when it gives none)."""
    if msgtype in JOINT_TYPES:
        return list(msg.name)
    if msgtype in TRAJECTORY_TYPES:
        return list(msg.joint_names)
    if msgtype in TWIST_TYPES:
        return list(TWIST_NAMES)
    return []


def camera_info(msg, crop: tuple[int, int, float], size: tuple[int, int]) -> dict:
    """Intrinsics of the stored images: the CameraInfo moved by the crop and scaled."""
    x0, y0, scale = crop
    k = np.asarray(msg.k, dtype=np.float64).reshape(3, 3).copy()
    k[0, 2] -= x0
    k[1, 2] -= y0
    k[:2] *= scale
    return {
        "width": int(size[1]),
        "height": int(size[0]),
        "distortion_model": str(msg.distortion_model),
        "d": [float(v) for v in msg.d],
        "k": k.ravel().tolist(),
        "frame_id": str(msg.header.frame_id),
    }


def pinhole_info(height: int, width: int, fovy_deg: float, frame_id: str) -> dict:
    """Intrinsics of an ideal pinhole camera with vertical field of view `fovy_deg`."""
    f = 0.5 * height / np.tan(np.radians(fovy_deg) / 2)
    return {
        "width": width,
        "height": height,
        "distortion_model": "plumb_bob",
        "d": [0.0] * 5,
        "k": [f, 0.0, width / 2, 0.0, f, height / 2, 0.0, 0.0, 1.0],
        "frame_id": frame_id,
    }
