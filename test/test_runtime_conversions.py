"""Message conversions the nodes rely on: camera images in, actions out (no graph needed)."""

from __future__ import annotations

import numpy as np
import pytest
from sensor_msgs.msg import Image

from vla_wm_ros.ros.image_conversion import (
    ImageConversionError,
    image_to_rgb,
    rgb_to_image,
)


@pytest.fixture
def rgb() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, size=(5, 7, 3), dtype=np.uint8)


@pytest.mark.parametrize("encoding", ["rgb8", "bgr8", "rgba8", "bgra8"])
def test_colour_encodings_round_trip(rgb, encoding):
    msg = rgb_to_image(rgb, encoding)
    assert msg.encoding == encoding and msg.height == 5 and msg.width == 7
    np.testing.assert_array_equal(image_to_rgb(msg), rgb)


def test_bgr_bytes_are_swapped():
    msg = Image(height=1, width=2, encoding="bgr8", step=6, data=bytes([1, 2, 3, 4, 5, 6]))
    assert image_to_rgb(msg).tolist() == [[[3, 2, 1], [6, 5, 4]]]


def test_mono_is_replicated_to_three_channels():
    msg = Image(height=1, width=3, encoding="mono8", step=3, data=bytes([0, 128, 255]))
    out = image_to_rgb(msg)
    assert out.shape == (1, 3, 3) and out[0, :, 0].tolist() == [0, 128, 255]
    assert (out[..., 0] == out[..., 2]).all()


def test_row_padding_in_step_is_skipped(rgb):
    padded = np.zeros((5, 7 * 3 + 11), np.uint8)
    padded[:, : 7 * 3] = rgb.reshape(5, -1)
    msg = Image(height=5, width=7, encoding="rgb8", step=7 * 3 + 11, data=padded.tobytes())
    np.testing.assert_array_equal(image_to_rgb(msg), rgb)


@pytest.mark.parametrize(
    ("msg", "reason"),
    [
        (Image(height=2, width=2, encoding="16UC1", step=4, data=bytes(8)), "unsupported encoding"),
        (Image(height=0, width=4, encoding="rgb8", step=12, data=b""), "zero-sized"),
        (Image(height=2, width=2, encoding="rgb8", step=5, data=bytes(10)), "step 5 is smaller"),
        (Image(height=2, width=2, encoding="rgb8", step=6, data=bytes(11)), "data has 11 bytes"),
    ],
)
def test_malformed_images_are_rejected_with_a_reason(msg, reason):
    with pytest.raises(ImageConversionError, match=reason):
        image_to_rgb(msg)
