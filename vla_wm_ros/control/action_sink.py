"""Where the planner's action goes and what it means there: the action sink, without ROS.

The sink is chosen by the planner's `action_sink.*` parameters (generated from this
dataclass, the one home of their defaults); control/action_semantics.py turns each action
into the sink's command (normalised action, end-effector velocity or position target,
gripper) and ros/action_messages.py builds the message of each type (docs/ACTIONS.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from vla_wm_ros.config import ConfigError
from vla_wm_ros.config.fields import doc

SinkType = Literal["float64_multi_array", "twist_stamped", "joint_state", "joint_trajectory"]
CommandKind = Literal["normalised", "velocity", "position"]
# Which commands each message type can carry.
COMMANDS = {
    "float64_multi_array": ("normalised", "velocity", "position"),
    "twist_stamped": ("velocity",),
    "joint_state": ("normalised", "velocity", "position"),
    "joint_trajectory": ("normalised", "position"),
}
METAWORLD_METRES_PER_UNIT = 0.01


@dataclass
class ActionSinkConfig:
    type: SinkType = field(
        default="float64_multi_array", metadata=doc("message type of the command")
    )
    topic: str = field(default="~/action", metadata=doc("topic the command is published on"))
    command: CommandKind = field(
        default="normalised",
        metadata=doc(
            "what the values are: the normalised action, end-effector velocity (m/s) or "
            "end-effector position target (m)"
        ),
    )
    scale: list[float] = field(
        default_factory=lambda: [1.0],
        metadata=doc("normalised: sent = offset + scale * action; one value or one each"),
    )
    offset: list[float] = field(default_factory=lambda: [0.0], metadata=doc("see scale"))
    metres_per_unit: float = field(
        default=METAWORLD_METRES_PER_UNIT,
        metadata=doc(
            "end-effector displacement (m) per unit action per tick (Meta-World: 0.01)",
            1e-6,
            1.0,
        ),
    )
    workspace_low: list[float] = field(
        default_factory=lambda: [-0.5, 0.2, 0.0],
        metadata=doc("position: target lower bound x y z (m, base frame)"),
    )
    workspace_high: list[float] = field(
        default_factory=lambda: [0.5, 1.0, 0.6],
        metadata=doc("position: target upper bound x y z (m, base frame)"),
    )
    integrate_from: Literal["measured", "target"] = field(
        default="measured",
        metadata=doc("position: add each step to the measured position or to the last target"),
    )
    hold: Literal["measured", "target"] = field(
        default="measured",
        metadata=doc("position: hold at the measured position or at the last target"),
    )
    gripper: Literal["in_command", "topic", "none"] = field(
        default="in_command",
        metadata=doc("gripper position as the command's last value, on gripper_topic, or not"),
    )
    gripper_open: float = field(
        default=1.0, metadata=doc("gripper command when fully open", -1e3, 1e3)
    )
    gripper_closed: float = field(
        default=0.0, metadata=doc("gripper command when closed", -1e3, 1e3)
    )
    gripper_topic: str = field(
        default="", metadata=doc("gripper: topic, its std_msgs/Float64MultiArray command topic")
    )
    joint_names: list[str] = field(
        default_factory=list,
        metadata=doc("joint_state/joint_trajectory: one name per command value"),
    )
    frame_id: str = field(
        default="", metadata=doc("header frame of stamped commands (twist: the velocity's)")
    )
    time_from_start: float = field(
        default=0.0,
        metadata=doc(
            "joint_trajectory: point due after this many seconds (0: one period)", 0.0, 60.0
        ),
    )

    def validate(self) -> None:
        if not self.scale or not self.offset:
            raise ConfigError("action_sink.scale and action_sink.offset must not be empty")
        if not self.metres_per_unit > 0:
            raise ConfigError(
                f"action_sink.metres_per_unit must be > 0, got {self.metres_per_unit}"
            )
        low, high = np.asarray(self.workspace_low), np.asarray(self.workspace_high)
        if low.shape != (3,) or high.shape != (3,) or not np.all(low < high):
            raise ConfigError(
                "action_sink.workspace_low/high must be 3 values each (x y z, m) with low < high, "
                f"got {self.workspace_low} / {self.workspace_high}"
            )
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
