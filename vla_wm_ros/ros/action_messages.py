"""A planner action as the message the robot listens to: one builder per sink type.

`SINKS` maps each `action_sink.type` to (message class, builder):

- float64_multi_array: std_msgs/Float64MultiArray (ros2_controllers
  forward_command_controller `~/commands`; our sim_bridge `~/action`)
- twist_stamped: geometry_msgs/TwistStamped (MoveIt Servo `~/delta_twist_cmds`)
- joint_state: sensor_msgs/JointState (Isaac Sim `joint_command`)
- joint_trajectory: trajectory_msgs/JointTrajectory (joint_trajectory_controller, ros_gz)

The values are the sink's `offset + scale * action` (control/action_sink.py).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from builtin_interfaces.msg import Duration, Time
from geometry_msgs.msg import TwistStamped
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from vla_wm_ros.control.action_sink import ActionSinkConfig, check_joints, sink_values

# (sink config, values, stamp, control period in s) -> message
Builder = Callable[[ActionSinkConfig, np.ndarray, Time, float], object]


def _float64_multi_array(cfg: ActionSinkConfig, values: np.ndarray, stamp: Time, period: float):
    return Float64MultiArray(data=values.tolist())


def _twist_stamped(cfg: ActionSinkConfig, values: np.ndarray, stamp: Time, period: float):
    msg = TwistStamped()
    msg.header.stamp = stamp
    msg.header.frame_id = cfg.frame_id
    picked = [float(values[i]) if 0 <= i < values.size else 0.0 for i in cfg.twist_indices]
    msg.twist.linear.x, msg.twist.linear.y, msg.twist.linear.z = picked[:3]
    msg.twist.angular.x, msg.twist.angular.y, msg.twist.angular.z = picked[3:]
    return msg


def _joint_state(cfg: ActionSinkConfig, values: np.ndarray, stamp: Time, period: float):
    check_joints(cfg, values)
    msg = JointState(name=list(cfg.joint_names))
    msg.header.stamp = stamp
    msg.header.frame_id = cfg.frame_id
    setattr(msg, cfg.joint_field, values.tolist())
    return msg


def _joint_trajectory(cfg: ActionSinkConfig, values: np.ndarray, stamp: Time, period: float):
    """A single point, due one control period ahead unless `time_from_start` says otherwise."""
    check_joints(cfg, values)
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


def action_to_message(cfg: ActionSinkConfig, action: np.ndarray, stamp: Time, period: float):
    """The message for `action` on sink `cfg`, stamped `stamp` where the type has a header."""
    return SINKS[cfg.type][1](cfg, sink_values(cfg, action), stamp, period)
