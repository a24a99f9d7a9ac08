"""Sink registry: the message each `action_sink.type` sends, built from a sink's command.

What a command means (normalised action, end-effector velocity, end-effector position
target, gripper) is control/action_semantics.py's; this module only puts the values in
the message the robot listens to:

- float64_multi_array: std_msgs/Float64MultiArray (ros2_controllers
  forward_command_controller `~/commands`; our sim_bridge `~/action`)
- twist_stamped: geometry_msgs/TwistStamped (MoveIt Servo `~/delta_twist_cmds`): linear
  x, y, z of a velocity command in `frame_id`, angular zero; the gripper goes to its topic
- joint_state: sensor_msgs/JointState (Isaac Sim `joint_command`): positions for position
  and normalised commands, velocities for velocity commands
- joint_trajectory: trajectory_msgs/JointTrajectory (joint_trajectory_controller, ros_gz)

The gripper, on sinks that take it on a topic of its own, is a one-value
std_msgs/Float64MultiArray (a gripper forward_command_controller's `~/commands`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from builtin_interfaces.msg import Duration, Time
from geometry_msgs.msg import TwistStamped
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from vla_wm_ros.config import ConfigError
from vla_wm_ros.control.action_semantics import CommandConfig

SinkType = Literal["float64_multi_array", "twist_stamped", "joint_state", "joint_trajectory"]

MESSAGE_TYPES = {
    "float64_multi_array": Float64MultiArray,
    "twist_stamped": TwistStamped,
    "joint_state": JointState,
    "joint_trajectory": JointTrajectory,
}
# Which commands each message type can carry.
COMMANDS = {
    "float64_multi_array": ("normalised", "velocity", "position"),
    "twist_stamped": ("velocity",),
    "joint_state": ("normalised", "velocity", "position"),
    "joint_trajectory": ("normalised", "position"),
}


@dataclass
class ActionSinkConfig(CommandConfig):
    """A sink: the message type and topic, and (CommandConfig) what the values mean."""

    type: SinkType = "float64_multi_array"
    topic: str = "~/action"
    # joint_state / joint_trajectory: one name per command value.
    joint_names: list[str] = field(default_factory=list)
    frame_id: str = ""
    # joint_trajectory: time_from_start of the single point (0 = one control period).
    time_from_start: float = 0.0
    # gripper: topic, the gripper controller's command topic.
    gripper_topic: str = ""

    def validate(self) -> None:
        super().validate()
        if self.command not in COMMANDS[self.type]:
            raise ConfigError(
                f"action_sink.command {self.command!r} cannot go out as {self.type} "
                f"(it carries: {', '.join(COMMANDS[self.type])})"
            )
        if self.type in ("joint_state", "joint_trajectory") and not self.joint_names:
            raise ConfigError(f"action_sink.joint_names is required for type {self.type}")
        if self.type == "twist_stamped" and self.gripper == "in_command":
            raise ConfigError(
                "action_sink.gripper: a TwistStamped has no gripper channel; use topic or none"
            )
        if self.gripper == "topic" and not self.gripper_topic:
            raise ConfigError("action_sink.gripper_topic is required with gripper: topic")

    def command_size(self, action_dim: int) -> int:
        """How many values each command has for an `action_dim`-D model."""
        if self.command == "normalised":
            return action_dim
        return 3 + (self.gripper == "in_command")

    def check(self, action_dim: int) -> None:
        """Refuse, at start, a sink whose joint names cannot carry this model's commands."""
        size = self.command_size(action_dim)
        if self.joint_names and len(self.joint_names) != size:
            raise ConfigError(
                f"action_sink.joint_names has {len(self.joint_names)} names for "
                f"{size}-value {self.command} commands"
            )


def _duration(seconds: float) -> Duration:
    return Duration(sec=int(seconds), nanosec=int((seconds % 1.0) * 1e9))


def command_to_message(cfg: ActionSinkConfig, values: np.ndarray, stamp: Time, period: float):
    """The message carrying command `values` on sink `cfg`, stamped where it has a header.

    `period` is the control period in seconds; a trajectory point is due one period ahead
    unless `time_from_start` sets otherwise.
    """
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(values)):
        raise ValueError("refusing to send a non-finite command")
    if cfg.joint_names and len(cfg.joint_names) != values.size:
        raise ValueError(f"command has {values.size} values but {len(cfg.joint_names)} joint_names")
    if cfg.type == "float64_multi_array":
        return Float64MultiArray(data=values.tolist())
    if cfg.type == "twist_stamped":
        msg = TwistStamped()
        msg.header.stamp = stamp
        msg.header.frame_id = cfg.frame_id
        msg.twist.linear.x, msg.twist.linear.y, msg.twist.linear.z = (float(v) for v in values[:3])
        return msg
    if cfg.type == "joint_state":
        msg = JointState(name=list(cfg.joint_names))
        msg.header.stamp = stamp
        msg.header.frame_id = cfg.frame_id
        setattr(msg, "velocity" if cfg.command == "velocity" else "position", values.tolist())
        return msg
    seconds = cfg.time_from_start if cfg.time_from_start > 0 else period
    point = JointTrajectoryPoint(positions=values.tolist(), time_from_start=_duration(seconds))
    msg = JointTrajectory(joint_names=list(cfg.joint_names), points=[point])
    msg.header.stamp = stamp
    msg.header.frame_id = cfg.frame_id
    return msg


def gripper_message(position: float) -> Float64MultiArray:
    """A gripper position for a gripper controller's command topic."""
    return Float64MultiArray(data=[float(position)])
