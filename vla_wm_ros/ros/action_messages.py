"""Turn a planner action (float vector in [-1, 1]^A) into what the robot listens to.

One function per sink type, chosen by the planner's `action_sink.type` parameter:

- float64_multi_array: std_msgs/Float64MultiArray (ros2_controllers
  forward_command_controller `~/commands`; our sim_bridge `~/action`)
- twist_stamped: geometry_msgs/TwistStamped (MoveIt Servo `~/delta_twist_cmds`)
- joint_state: sensor_msgs/JointState (Isaac Sim `joint_command`)
- joint_trajectory: trajectory_msgs/JointTrajectory (joint_trajectory_controller, ros_gz)

Each output value is `offset + scale * action` (per-dimension or scalar scale/offset), so a
normalised action maps onto the robot's units without code changes.
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

SinkType = Literal["float64_multi_array", "twist_stamped", "joint_state", "joint_trajectory"]

MESSAGE_TYPES = {
    "float64_multi_array": Float64MultiArray,
    "twist_stamped": TwistStamped,
    "joint_state": JointState,
    "joint_trajectory": JointTrajectory,
}


@dataclass
class ActionSinkConfig:
    type: SinkType = "float64_multi_array"
    topic: str = "~/action"
    scale: list[float] = field(default_factory=lambda: [1.0])
    offset: list[float] = field(default_factory=lambda: [0.0])
    # joint_state / joint_trajectory: one name per action dimension.
    joint_names: list[str] = field(default_factory=list)
    # joint_state: which field carries the command.
    joint_field: Literal["position", "velocity", "effort"] = "position"
    # twist_stamped: action indices for linear x, y, z and angular x, y, z (-1 = zero).
    twist_indices: list[int] = field(default_factory=lambda: [0, 1, 2, -1, -1, -1])
    frame_id: str = ""
    # joint_trajectory: time_from_start of the single point (0 = one control period).
    time_from_start: float = 0.0

    def validate(self) -> None:
        if self.type in ("joint_state", "joint_trajectory") and not self.joint_names:
            raise ConfigError(f"action_sink.joint_names is required for type {self.type}")
        if len(self.twist_indices) != 6:
            raise ConfigError("action_sink.twist_indices must have 6 entries")
        if not self.scale or not self.offset:
            raise ConfigError("action_sink.scale and action_sink.offset must not be empty")


def _affine(cfg: ActionSinkConfig, action: np.ndarray) -> np.ndarray:
    a = np.asarray(action, dtype=np.float64).reshape(-1)
    for name, values in (("scale", cfg.scale), ("offset", cfg.offset)):
        if len(values) not in (1, a.size):
            raise ValueError(
                f"action_sink.{name} has {len(values)} entries for a {a.size}-D action"
            )
    return np.asarray(cfg.offset) + np.asarray(cfg.scale) * a


def _check_joints(cfg: ActionSinkConfig, values: np.ndarray) -> None:
    if len(cfg.joint_names) != values.size:
        raise ValueError(
            f"action has {values.size} dimensions but {len(cfg.joint_names)} joint_names"
        )


def action_to_message(cfg: ActionSinkConfig, action: np.ndarray, stamp: Time, period: float):
    """The message for `action` on sink `cfg`, stamped `stamp` where the type has a header.

    `period` is the control period in seconds; a trajectory point is due one period ahead
    unless `time_from_start` sets otherwise.
    """
    values = _affine(cfg, action)
    if not np.all(np.isfinite(values)):
        raise ValueError("refusing to send a non-finite action")
    if cfg.type == "float64_multi_array":
        return Float64MultiArray(data=values.tolist())
    if cfg.type == "twist_stamped":
        msg = TwistStamped()
        msg.header.stamp = stamp
        msg.header.frame_id = cfg.frame_id
        picked = [float(values[i]) if 0 <= i < values.size else 0.0 for i in cfg.twist_indices]
        msg.twist.linear.x, msg.twist.linear.y, msg.twist.linear.z = picked[:3]
        msg.twist.angular.x, msg.twist.angular.y, msg.twist.angular.z = picked[3:]
        return msg
    _check_joints(cfg, values)
    if cfg.type == "joint_state":
        msg = JointState(name=list(cfg.joint_names))
        msg.header.stamp = stamp
        msg.header.frame_id = cfg.frame_id
        setattr(msg, cfg.joint_field, values.tolist())
        return msg
    seconds = cfg.time_from_start if cfg.time_from_start > 0 else period
    point = JointTrajectoryPoint(
        positions=values.tolist(),
        time_from_start=Duration(sec=int(seconds), nanosec=int((seconds % 1.0) * 1e9)),
    )
    msg = JointTrajectory(joint_names=list(cfg.joint_names), points=[point])
    msg.header.stamp = stamp
    msg.header.frame_id = cfg.frame_id
    return msg
