"""Where the planner's action goes and in which units: the action sink, without ROS.

The sink is chosen by the planner's `action_sink.*` parameters (generated from this
dataclass); ros/action_messages.py builds the message of each type. Each output value is
`offset + scale * action` (per-dimension or scalar scale/offset), so a normalised action
maps onto the robot's units without code changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from vla_wm_ros.config import ConfigError
from vla_wm_ros.config.fields import doc

SinkType = Literal["float64_multi_array", "twist_stamped", "joint_state", "joint_trajectory"]


@dataclass
class ActionSinkConfig:
    type: SinkType = field(
        default="float64_multi_array", metadata=doc("message type of the command")
    )
    topic: str = field(default="~/action", metadata=doc("topic the command is published on"))
    scale: list[float] = field(
        default_factory=lambda: [1.0],
        metadata=doc("sent = offset + scale * action; one value or one each"),
    )
    offset: list[float] = field(default_factory=lambda: [0.0], metadata=doc("see scale"))
    joint_names: list[str] = field(
        default_factory=list, metadata=doc("joint_state/joint_trajectory: one per action dim")
    )
    joint_field: Literal["position", "velocity", "effort"] = field(
        default="position", metadata=doc("joint_state: field carrying the command")
    )
    twist_indices: list[int] = field(
        default_factory=lambda: [0, 1, 2, -1, -1, -1],
        metadata=doc("twist_stamped: action index for linear xyz, angular xyz (-1: zero)"),
    )
    frame_id: str = field(default="", metadata=doc("header frame of stamped commands"))
    time_from_start: float = field(
        default=0.0,
        metadata=doc(
            "joint_trajectory: point due after this many seconds (0: one period)", 0.0, 60.0
        ),
    )

    def validate(self) -> None:
        if self.type in ("joint_state", "joint_trajectory") and not self.joint_names:
            raise ConfigError(f"action_sink.joint_names is required for type {self.type}")
        if len(self.twist_indices) != 6:
            raise ConfigError("action_sink.twist_indices must have 6 entries")
        if not self.scale or not self.offset:
            raise ConfigError("action_sink.scale and action_sink.offset must not be empty")


def sink_values(cfg: ActionSinkConfig, action: np.ndarray) -> np.ndarray:
    """`offset + scale * action`, refused when the sizes disagree or a value is not finite."""
    a = np.asarray(action, dtype=np.float64).reshape(-1)
    for name, values in (("scale", cfg.scale), ("offset", cfg.offset)):
        if len(values) not in (1, a.size):
            raise ValueError(
                f"action_sink.{name} has {len(values)} entries for a {a.size}-D action"
            )
    values = np.asarray(cfg.offset) + np.asarray(cfg.scale) * a
    if not np.all(np.isfinite(values)):
        raise ValueError("refusing to send a non-finite action")
    return values


def check_joints(cfg: ActionSinkConfig, values: np.ndarray) -> None:
    """One joint name per action dimension (joint_state, joint_trajectory)."""
    if len(cfg.joint_names) != values.size:
        raise ValueError(
            f"action has {values.size} dimensions but {len(cfg.joint_names)} joint_names"
        )
