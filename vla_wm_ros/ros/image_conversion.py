"""sensor_msgs/Image <-> RGB arrays, with cv_bridge's semantics.

On a ROS install cv_bridge is used when it imports and actually works (the 2020 PyPI
build fails on NumPy 2). Otherwise our own conversion does the same thing for the 8-bit
encodings cameras publish: row stride (`step`) honoured, channel order converted to RGB,
alpha dropped, mono replicated. Malformed messages raise ImageConversionError with the
reason, so a node can log it and keep running.
"""

from __future__ import annotations

import numpy as np
from sensor_msgs.msg import Image

# encoding -> (channels, index order that turns the stored channels into RGB)
ENCODINGS: dict[str, tuple[int, tuple[int, ...]]] = {
    "rgb8": (3, (0, 1, 2)),
    "bgr8": (3, (2, 1, 0)),
    "rgba8": (4, (0, 1, 2)),
    "bgra8": (4, (2, 1, 0)),
    "mono8": (1, (0, 0, 0)),
}

MAX_PIXELS = 4096 * 4096


class ImageConversionError(ValueError):
    """The Image message cannot be read as an RGB picture; the message says why."""


def _working_cv_bridge():
    try:
        from cv_bridge import CvBridge

        bridge = CvBridge()
        probe = Image(height=1, width=2, encoding="bgr8", step=6, data=bytes([1, 2, 3, 4, 5, 6]))
        if bridge.imgmsg_to_cv2(probe, desired_encoding="rgb8").tolist() != [
            [[3, 2, 1], [6, 5, 4]]
        ]:
            return None
        return bridge
    except Exception:  # not installed, or broken against this NumPy
        return None


_BRIDGE = _working_cv_bridge()


def backend() -> str:
    """Which converter is in use: 'cv_bridge' or 'numpy'."""
    return "cv_bridge" if _BRIDGE is not None else "numpy"


def check_image(msg: Image) -> int:
    """Validate geometry and buffer size; returns the channel count or raises with the reason."""
    if msg.encoding not in ENCODINGS:
        raise ImageConversionError(
            f"unsupported encoding {msg.encoding!r} (supported: {', '.join(ENCODINGS)})"
        )
    channels = ENCODINGS[msg.encoding][0]
    if msg.height == 0 or msg.width == 0:
        raise ImageConversionError(f"zero-sized image ({msg.width}x{msg.height})")
    if msg.height * msg.width > MAX_PIXELS:
        raise ImageConversionError(f"image too large ({msg.width}x{msg.height})")
    if msg.step < msg.width * channels:
        raise ImageConversionError(
            f"step {msg.step} is smaller than width*channels = {msg.width * channels}"
        )
    if len(msg.data) != msg.step * msg.height:
        raise ImageConversionError(
            f"data has {len(msg.data)} bytes, expected step*height = {msg.step * msg.height}"
        )
    return channels


def image_to_rgb(msg: Image) -> np.ndarray:
    """A (H, W, 3) uint8 RGB copy of the message's pixels."""
    channels = check_image(msg)
    if _BRIDGE is not None:
        return np.ascontiguousarray(_BRIDGE.imgmsg_to_cv2(msg, desired_encoding="rgb8"))
    rows = np.frombuffer(msg.data, dtype=np.uint8).reshape(msg.height, msg.step)
    pixels = rows[:, : msg.width * channels].reshape(msg.height, msg.width, channels)
    return np.ascontiguousarray(pixels[:, :, list(ENCODINGS[msg.encoding][1])])


def rgb_to_image(rgb: np.ndarray, encoding: str = "rgb8") -> Image:
    """An Image message (header left for the caller) holding `rgb` in `encoding`."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ImageConversionError(f"expected (H, W, 3) uint8, got {rgb.shape} {rgb.dtype}")
    if encoding not in ENCODINGS:
        raise ImageConversionError(f"unsupported encoding {encoding!r}")
    channels, order = ENCODINGS[encoding]
    if channels == 1:
        out = rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
        out = np.clip(np.rint(out), 0, 255).astype(np.uint8)[:, :, None]
    else:
        out = rgb[:, :, list(order)]
        if channels == 4:
            out = np.concatenate([out, np.full((*rgb.shape[:2], 1), 255, np.uint8)], axis=2)
    height, width = rgb.shape[:2]
    return Image(
        height=height,
        width=width,
        encoding=encoding,
        is_bigendian=0,
        step=width * channels,
        data=np.ascontiguousarray(out).tobytes(),
    )


def fit_to_size(rgb: np.ndarray, height: int, width: int, resize: bool) -> np.ndarray:
    """`rgb` at the model's input size: area-resampled when `resize`, else refused."""
    if rgb.shape[:2] == (height, width):
        return rgb
    if not resize:
        raise ImageConversionError(
            f"image is {rgb.shape[1]}x{rgb.shape[0]}, the model takes {width}x{height} "
            "(set resize: true to resample)"
        )
    import cv2

    return cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA)
