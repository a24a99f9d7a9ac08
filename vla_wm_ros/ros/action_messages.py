"""A sink's command as the message the robot listens to: one builder per sink type.

`SINKS` maps each `action_sink.type` to (message class, builder). What the values mean
(normalised action, end-effector velocity, end-effector position target, gripper) is
control/action_semantics.py's (docs/ACTIONS.md); a builder only puts them in its message:

- float64_multi_array: std_msgs/Float64MultiArray (ros2_controllers
  forward_command_controller `~/commands`; our sim_bridge `~/action`)
- twist_stamped: geometry_msgs/TwistStamped (MoveIt Servo `~/delta_twist_cmds`): linear
  x, y, z of a velocity command in `frame_id`, angular zero; the gripper goes to its topic
- joint_state: sensor_msgs/JointState (Isaac Sim `joint_command`): positions for position
  and normalised commands, velocities for velocity commands
- joint_trajectory: trajectory_msgs/JointTrajectory (joint_trajectory_controller, ros_gz)

A gripper on a topic of its own gets a one-value std_msgs/Float64MultiArray (a gripper
forward_command_controller's `~/commands`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from builtin_interfaces.msg import Duration, Time
from geometry_msgs.msg import TwistStamped
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from vla_wm_ros.control.action_sink import ActionSinkConfig

# (sink config, command values, stamp, control period in s) -> message
Builder = Callable[[ActionSinkConfig, np.ndarray, Time, float], object]


def _float64_multi_array(cfg: ActionSinkConfig, values: np.ndarray, stamp: Time, period: float):
    return Float64MultiArray(data=values.tolist())


def _twist_stamped(cfg: ActionSinkConfig, values: np.ndarray, stamp: Time, period: float):
    msg = TwistStamped()
    msg.header.stamp = stamp
    msg.header.frame_id = cfg.frame_id
    msg.twist.linear.x, msg.twist.linear.y, msg.twist.linear.z = (float(v) for v in values[:3])
    return msg


def _joint_state(cfg: ActionSinkConfig, values: np.ndarray, stamp: Time, period: float):
    msg = JointState(name=list(cfg.joint_names))
    msg.header.stamp = stamp
    msg.header.frame_id = cfg.frame_id
    setattr(msg, "velocity" if cfg.command == "velocity" else "position", values.tolist())
    return msg


def _joint_trajectory(cfg: ActionSinkConfig, values: np.ndarray, stamp: Time, period: float):
    """A single point, due one control period ahead unless `time_from_start` says otherwise."""
    seconds = cfg.time_from_start if cfg.time_from_start > 0 else period
    point = JointTrajectoryPoint(
        positions=values.tolist(),
        time_from_start=Duration(sec=int(seconds), nanosec=int((seconds % 1.0) * 1e9)),
    )
    msg = JointTrajectory(joint_names=list(cfg.joint_names), points=[point])
    msg.header.stamp = stamp
    msg.header.frame_id = cfg.frame_id
    return msg


SINKS: dict[str, tuple[type, Builder]] = {
    "float64_multi_array": (Float64MultiArray, _float64_multi_array),
    "twist_stamped": (TwistStamped, _twist_stamped),
    "joint_state": (JointState, _joint_state),
    "joint_trajectory": (JointTrajectory, _joint_trajectory),
}


def command_to_message(cfg: ActionSinkConfig, values: np.ndarray, stamp: Time, period: float):
    """The message carrying command `values` on sink `cfg`, stamped where it has a header."""
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(values)):
        raise ValueError("refusing to send a non-finite command")
    if cfg.joint_names and len(cfg.joint_names) != values.size:
        raise ValueError(f"command has {values.size} values but {len(cfg.joint_names)} joint_names")
    return SINKS[cfg.type][1](cfg, values, stamp, period)


def gripper_message(position: float) -> Float64MultiArray:
    """A gripper position for a gripper controller's command topic."""
    return Float64MultiArray(data=[float(position)])
