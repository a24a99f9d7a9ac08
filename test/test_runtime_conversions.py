"""Message conversions the nodes rely on: camera images in, actions out (no graph needed)."""

from __future__ import annotations

import numpy as np
import pytest
from builtin_interfaces.msg import Time
from sensor_msgs.msg import Image

from vla_wm_ros.config import ConfigError, from_dict
from vla_wm_ros.control.action_sink import ActionSinkConfig
from vla_wm_ros.ros.action_messages import action_to_message
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


STAMP = Time(sec=3, nanosec=500)


def test_float64_array_applies_scale_and_offset():
    cfg = ActionSinkConfig(scale=[2.0], offset=[0.5])
    msg = action_to_message(cfg, np.array([0.25, -1.0]), STAMP, period=0.1)
    assert list(msg.data) == [1.0, -1.5]


def test_twist_maps_indices_and_zeroes_the_rest():
    cfg = ActionSinkConfig(type="twist_stamped", scale=[0.1], frame_id="tool0")
    msg = action_to_message(cfg, np.array([1.0, -0.5, 0.2, 0.9]), STAMP, period=0.1)
    assert msg.header.frame_id == "tool0" and msg.header.stamp.sec == 3
    linear = [msg.twist.linear.x, msg.twist.linear.y, msg.twist.linear.z]
    assert linear == pytest.approx([0.1, -0.05, 0.02])
    assert msg.twist.angular.x == msg.twist.angular.y == msg.twist.angular.z == 0.0


def test_joint_state_fills_the_configured_field():
    cfg = ActionSinkConfig(type="joint_state", joint_names=["a", "b"], joint_field="velocity")
    msg = action_to_message(cfg, np.array([0.3, -0.4]), STAMP, period=0.1)
    assert list(msg.name) == ["a", "b"]
    assert list(msg.velocity) == pytest.approx([0.3, -0.4]) and len(msg.position) == 0


def test_joint_trajectory_point_is_due_one_period_ahead():
    cfg = ActionSinkConfig(type="joint_trajectory", joint_names=["a", "b"])
    msg = action_to_message(cfg, np.array([0.3, -0.4]), STAMP, period=0.1)
    point = msg.points[0]
    assert list(point.positions) == pytest.approx([0.3, -0.4])
    assert point.time_from_start.sec == 0 and point.time_from_start.nanosec == 100_000_000


def test_bad_actions_and_configs_are_refused():
    joint = ActionSinkConfig(type="joint_state", joint_names=["a", "b", "c"])
    with pytest.raises(ValueError, match="2 dimensions but 3 joint_names"):
        action_to_message(joint, np.zeros(2), STAMP, period=0.1)
    with pytest.raises(ValueError, match="non-finite"):
        action_to_message(ActionSinkConfig(), np.array([np.nan]), STAMP, period=0.1)
    with pytest.raises(ValueError, match="scale has 2 entries for a 3-D action"):
        action_to_message(ActionSinkConfig(scale=[1.0, 2.0]), np.zeros(3), STAMP, period=0.1)
    with pytest.raises(ConfigError, match="joint_names is required"):
        from_dict(ActionSinkConfig, {"type": "joint_trajectory"})
