"""Action semantics per sink, on an action sequence recorded from the Meta-World expert.

The position sink integrating from its last target, with Meta-World's own mocap bounds as
the workspace, must reproduce the simulator's mocap target step for step: what we send a
position-controlled robot is what the model's action meant in training. Velocity is
displacement / period; holds are the measured position (or last target), never zeros.
Messages per sink are built with the real ROS message classes.
"""

from __future__ import annotations

import numpy as np
import pytest
from builtin_interfaces.msg import Time

from vla_wm_ros.config import ConfigError, from_dict
from vla_wm_ros.control.action_semantics import ActionSemantics
from vla_wm_ros.control.action_sink import ActionSinkConfig
from vla_wm_ros.ros.action_messages import command_to_message, gripper_message

PERIOD = 0.1
STAMP = Time(sec=3, nanosec=500)
STEPS = 25


@pytest.fixture(scope="module")
def recorded():
    """(actions, proprio before each action, mocap target after each, mocap bounds)."""
    from vla_wm_ros.sim.env import MetaWorldEnv
    from vla_wm_ros.sim.policies import expert_action

    env = MetaWorldEnv(task="reach", seed=3, render=False, max_steps=STEPS)
    obs = env.reset(seed=3)
    inner = env._env
    actions, proprio, mocap = [], [], []
    start = inner.data.mocap_pos[0].copy()
    for _ in range(STEPS):
        action = expert_action(env, obs)
        proprio.append(obs.proprio.astype(np.float64))
        actions.append(action)
        obs = env.step(action).obs
        mocap.append(inner.data.mocap_pos[0].copy())
    bounds = (inner.mocap_low.tolist(), inner.mocap_high.tolist())
    env.close()
    return np.array(actions), np.array(proprio), np.array(mocap), start, bounds


def test_position_from_last_target_reproduces_the_simulators_mocap_target(recorded):
    actions, proprio, mocap, start, (low, high) = recorded
    cfg = ActionSinkConfig(
        command="position", integrate_from="target", workspace_low=low, workspace_high=high
    )
    semantics = ActionSemantics(cfg, PERIOD)
    semantics.target = start  # the controller's target at the start: the mocap's
    sent = np.array([semantics.command(a, p).values for a, p in zip(actions, proprio, strict=True)])
    assert np.abs(sent[:, :3] - mocap).max() < 1e-6
    assert np.ptp(sent[:, 0]) + np.ptp(sent[:, 1]) + np.ptp(sent[:, 2]) > 0.02  # it moved


def test_position_from_measured_steps_off_each_measurement_and_clamps(recorded):
    actions, proprio, _, _, _ = recorded
    cfg = ActionSinkConfig(command="position", workspace_low=[-0.5, 0.2, 0.0],
                        workspace_high=[0.5, 1.0, 0.2])  # fmt: skip
    semantics = ActionSemantics(cfg, PERIOD)
    for a, p in zip(actions, proprio, strict=True):
        values = semantics.command(a, p).values
        expected = np.clip(p[:3] + np.clip(a[:3], -1, 1) * 0.01, cfg.workspace_low,
                           cfg.workspace_high)  # fmt: skip
        assert values[:3] == pytest.approx(expected, abs=1e-8)
        assert values[3] == pytest.approx(1 - (np.clip(a[3], -1, 1) + 1) / 2)  # open 1, closed 0
    assert semantics.command(np.array([0, 0, 1.0, 0]), np.array([0.0, 0.6, 0.5, 1.0])).values[
        2
    ] == pytest.approx(0.2)  # a measured 0.5 m is out of the workspace: the target is clamped


def test_position_hold_is_the_measured_position_or_last_target_never_zeros(recorded):
    actions, proprio, _, _, _ = recorded
    measured = np.array([0.05, 0.6, 0.15, 0.7])
    cfg = ActionSinkConfig(command="position")
    semantics = ActionSemantics(cfg, PERIOD)
    assert semantics.hold(np.zeros(4), None).values is None  # nothing known: nothing sent
    held = semantics.hold(np.zeros(4), measured).values
    assert held[:3] == pytest.approx(measured[:3]) and held[3] == pytest.approx(0.7)
    target = semantics.command(actions[0], proprio[0]).values
    last_target = ActionSemantics(ActionSinkConfig(command="position", hold="target"), PERIOD)
    last_target.command(actions[0], proprio[0])
    assert last_target.hold(np.zeros(4), measured).values == pytest.approx(target)
    # The gripper holds its last command.
    assert semantics.hold(np.zeros(4), measured).values[3] == pytest.approx(target[3])


def test_velocity_is_displacement_over_period_and_holds_at_zero(recorded):
    actions, proprio, _, _, _ = recorded
    cfg = ActionSinkConfig(command="velocity", gripper="topic", gripper_topic="/g")
    semantics = ActionSemantics(cfg, PERIOD)
    for a, p in zip(actions, proprio, strict=True):
        command = semantics.command(a, p)
        assert command.values == pytest.approx(np.clip(a[:3], -1, 1) * 0.01 / PERIOD)
        assert 0.0 <= command.gripper <= 1.0
    hold = semantics.hold(np.zeros(4), proprio[-1])
    assert list(hold.values) == [0.0, 0.0, 0.0] and hold.gripper == command.gripper


def test_normalised_passes_the_action_through_scale_and_offset(recorded):
    actions, proprio, _, _, _ = recorded
    semantics = ActionSemantics(ActionSinkConfig(scale=[2.0], offset=[0.5]), PERIOD)
    assert semantics.command(actions[3], proprio[3]).values == pytest.approx(0.5 + 2 * actions[3])
    assert semantics.hold(np.zeros(4), None).values == pytest.approx([0.5] * 4)
    with pytest.raises(ValueError, match="scale has 2 entries for a 3-D action"):
        ActionSemantics(ActionSinkConfig(scale=[1.0, 2.0]), PERIOD).command(np.zeros(3), None)
    with pytest.raises(ValueError, match="non-finite"):
        semantics.command(np.array([np.nan, 0, 0, 0]), None)


def test_each_sink_carries_its_command(recorded):
    actions, proprio, _, _, _ = recorded
    twist = from_dict(ActionSinkConfig, {"type": "twist_stamped", "command": "velocity",
                      "frame_id": "base_link", "gripper": "topic",
                      "gripper_topic": "/gripper/commands"})  # fmt: skip
    command = ActionSemantics(twist, PERIOD).command(actions[0], proprio[0])
    msg = command_to_message(twist, command.values, STAMP, PERIOD)
    assert msg.header.frame_id == "base_link" and msg.header.stamp.sec == 3
    linear = [msg.twist.linear.x, msg.twist.linear.y, msg.twist.linear.z]
    assert linear == pytest.approx(command.values) and msg.twist.angular.z == 0.0
    assert list(gripper_message(command.gripper).data) == [command.gripper]

    names = ["ee_x", "ee_y", "ee_z", "gripper"]
    joint = from_dict(ActionSinkConfig, {"type": "joint_state", "command": "position",
                      "joint_names": names})  # fmt: skip
    command = ActionSemantics(joint, PERIOD).command(actions[0], proprio[0])
    msg = command_to_message(joint, command.values, STAMP, PERIOD)
    assert list(msg.name) == names and list(msg.position) == pytest.approx(command.values)
    assert len(msg.velocity) == 0

    velocity = from_dict(ActionSinkConfig, {"type": "joint_state", "command": "velocity",
                         "joint_names": names})  # fmt: skip
    msg = command_to_message(velocity, np.array([0.1, 0.0, -0.1, 0.5]), STAMP, PERIOD)
    assert list(msg.velocity) == pytest.approx([0.1, 0.0, -0.1, 0.5]) and len(msg.position) == 0

    trajectory = from_dict(ActionSinkConfig, {"type": "joint_trajectory", "command": "position",
                           "joint_names": names})  # fmt: skip
    msg = command_to_message(trajectory, np.array([0.1, 0.6, 0.2, 0.0]), STAMP, PERIOD)
    point = msg.points[0]
    assert list(point.positions) == pytest.approx([0.1, 0.6, 0.2, 0.0])
    assert point.time_from_start.sec == 0 and point.time_from_start.nanosec == 100_000_000


def test_bad_sinks_are_refused_at_configuration():
    with pytest.raises(ConfigError, match="cannot go out as twist_stamped"):
        from_dict(ActionSinkConfig, {"type": "twist_stamped", "command": "position"})
    with pytest.raises(ConfigError, match="no gripper channel"):
        from_dict(ActionSinkConfig, {"type": "twist_stamped", "command": "velocity"})
    with pytest.raises(ConfigError, match="joint_names is required"):
        from_dict(ActionSinkConfig, {"type": "joint_trajectory", "command": "position"})
    with pytest.raises(ConfigError, match="gripper_topic is required"):
        from_dict(ActionSinkConfig, {"command": "velocity", "gripper": "topic"})
    with pytest.raises(ConfigError, match="workspace_low/high"):
        from_dict(ActionSinkConfig, {"command": "position", "workspace_low": [0, 0, 1]})
    sink = from_dict(ActionSinkConfig, {"type": "joint_state", "command": "position",
                     "joint_names": ["a", "b", "c"]})  # fmt: skip
    with pytest.raises(ConfigError, match="3 names for 4-value position commands"):
        sink.check(action_dim=4)
    with pytest.raises(ValueError, match="2 values but 3 joint_names"):
        command_to_message(sink, np.zeros(2), STAMP, PERIOD)
