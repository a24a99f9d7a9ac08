"""What the model's action means on a robot, and the command each kind of sink takes.

The model acts as it was trained in Meta-World: a 4-D action in [-1, 1], the first three
an end-effector displacement per control tick along the robot base frame's x, y, z
(`metres_per_unit` metres per unit: Meta-World moves its mocap target 0.01 m per unit
per step) and the last the gripper (+1 close, -1 open). Proprioception is the measured
end-effector x, y, z (m) and the gripper opening (1 open, 0 closed).

A sink turns that into one of three commands (`command`):

- normalised: the action itself (`offset + scale * action`), for a consumer that
  applies the model's semantics itself (our sim_bridge). Hold: the safe action.
- velocity: end-effector velocity, displacement / period (m/s), e.g. a TwistStamped for
  MoveIt Servo or JointState velocities. Hold: zero velocity.
- position: an end-effector target, integrated from the measured position (or from the
  last target) and clamped to the workspace. Hold: the measured position (or the last
  target); never zeros. Without a measured position nothing is commanded.

The gripper goes into the command vector (`gripper: in_command`), on a topic of its own
(`gripper: topic`, for velocity sinks whose message has no gripper channel), or nowhere;
its position is open + (closed - open) * (action + 1) / 2, held at its last value.

Pure functions of (sink config, action, measured state, last target): tested without
ROS. The settings are control/action_sink.ActionSinkConfig's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vla_wm_ros.config import ConfigError
from vla_wm_ros.control.action_sink import ActionSinkConfig

XYZ = slice(0, 3)
GRIPPER = 3


@dataclass
class Command:
    """One tick's command: the sink's values (None: send nothing) and the gripper's."""

    values: np.ndarray | None
    gripper: float | None = None


def _affine(cfg: ActionSinkConfig, action: np.ndarray) -> np.ndarray:
    for name, values in (("scale", cfg.scale), ("offset", cfg.offset)):
        if len(values) not in (1, action.size):
            raise ValueError(
                f"action_sink.{name} has {len(values)} entries for a {action.size}-D action"
            )
    return np.asarray(cfg.offset) + np.asarray(cfg.scale) * action


def gripper_position(cfg: ActionSinkConfig, action: float) -> float:
    """The gripper position for a gripper action in [-1, 1] (+1 closes)."""
    a = float(np.clip(action, -1.0, 1.0))
    return cfg.gripper_open + (cfg.gripper_closed - cfg.gripper_open) * (a + 1.0) / 2.0


def gripper_from_opening(cfg: ActionSinkConfig, opening: float) -> float:
    """The gripper position of a measured opening (1 open, 0 closed)."""
    o = float(np.clip(opening, 0.0, 1.0))
    return cfg.gripper_closed + (cfg.gripper_open - cfg.gripper_closed) * o


class ActionSemantics:
    """Turns actions into commands for one sink; keeps the last position target.

    `measured` is the model-order proprioception (x, y, z, gripper opening), None when
    none has arrived yet.
    """

    def __init__(self, cfg: ActionSinkConfig, period: float) -> None:
        cfg.validate()
        if period <= 0:
            raise ConfigError(f"control period must be > 0 s, got {period}")
        self.cfg, self.period = cfg, period
        self.target: np.ndarray | None = None  # last position target (m)
        self.gripper: float | None = None  # last gripper command

    def reset(self) -> None:
        """Forget the last target (a new goal or episode starts from the measured state)."""
        self.target = None

    def command(self, action: np.ndarray, measured: np.ndarray | None) -> Command:
        """The command for a planned `action`."""
        a = np.asarray(action, dtype=np.float64).reshape(-1)
        if not np.all(np.isfinite(a)):
            raise ValueError("refusing to command a non-finite action")
        cfg = self.cfg
        if cfg.command == "normalised":
            return Command(_affine(cfg, a))
        if a.size <= GRIPPER:
            raise ValueError(
                f"a {a.size}-D action has no gripper channel; {cfg.command} sinks take "
                "x, y, z, gripper"
            )
        self.gripper = gripper_position(cfg, a[GRIPPER])
        step = np.clip(a[XYZ], -1.0, 1.0) * cfg.metres_per_unit
        if cfg.command == "velocity":
            return self._with_gripper(step / self.period)
        base = self.target if cfg.integrate_from == "target" and self.target is not None else None
        if base is None:
            if measured is None:
                return Command(None)
            base = np.asarray(measured, dtype=np.float64)[XYZ]
        self.target = self._clamp(base + step)
        return self._with_gripper(self.target)

    def hold(self, safe: np.ndarray, measured: np.ndarray | None) -> Command:
        """The command that keeps the robot where it is (`safe`: the normalised hold)."""
        cfg = self.cfg
        if cfg.command == "normalised":
            return Command(_affine(cfg, np.asarray(safe, dtype=np.float64).reshape(-1)))
        if self.gripper is None and measured is not None and len(measured) > GRIPPER:
            self.gripper = gripper_from_opening(cfg, measured[GRIPPER])
        if cfg.command == "velocity":
            return self._with_gripper(np.zeros(3))
        if cfg.hold == "measured" and measured is not None:
            self.target = self._clamp(np.asarray(measured, dtype=np.float64)[XYZ])
        if self.target is None:
            return Command(None)
        return self._with_gripper(self.target)

    def _clamp(self, xyz: np.ndarray) -> np.ndarray:
        return np.clip(xyz, self.cfg.workspace_low, self.cfg.workspace_high)

    def _with_gripper(self, xyz: np.ndarray) -> Command:
        cfg = self.cfg
        if cfg.gripper == "in_command":
            if self.gripper is None:
                return Command(None)  # no gripper value known yet: do not guess one
            return Command(np.append(xyz, self.gripper))
        return Command(
            np.asarray(xyz, dtype=np.float64), self.gripper if cfg.gripper == "topic" else None
        )
