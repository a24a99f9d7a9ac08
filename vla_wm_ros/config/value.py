"""The offline value's section of the world-model config (`WorldModelConfig.value`).

Kept apart because a value run (`vla-wm train-value`) sizes and trains it on a frozen
world model; the rest of the tree is fixed by then.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from vla_wm_ros.config.checks import Activation, non_negative, positive
from vla_wm_ros.config.loader import ConfigError


@dataclass
class ValueConfig:
    """Offline value for the planner (IQL recipe, as FOWM): an ensemble of Q heads on
    (feature, action, goal) fitted by TD on recorded transitions, and V on (feature, goal)
    by expectile regression on the target Qs of the recorded actions, so no target ever
    queries an action the data does not hold. heads 0: no offline value (the planner uses
    the imagination critic). The Q heads' spread is the planner's uncertainty penalty.
    Q and V predict in units of value_scale (returns reach ~10 / (1 - gamma) here)."""

    heads: int = 0
    hidden: int = 128
    layers: int = 2
    gamma: float = 0.99
    expectile: float = 0.8
    target_tau: float = 0.005
    value_scale: float = 100.0
    target: Literal["min", "mean"] = "min"  # how V's target combines the target Q heads
    act: Activation = "silu"
    norm: bool = True

    def validate(self) -> None:
        non_negative(heads=self.heads)
        positive(hidden=self.hidden, layers=self.layers, value_scale=self.value_scale)
        if self.heads == 1:
            raise ConfigError("heads: an ensemble needs >= 2 Q heads (or 0 for none), got 1")
        if not 0.0 < self.gamma < 1.0:
            raise ConfigError(f"gamma: must be in (0, 1), got {self.gamma}")
        if not 0.5 <= self.expectile < 1.0:
            raise ConfigError(f"expectile: must be in [0.5, 1), got {self.expectile}")
        if not 0.0 < self.target_tau <= 1.0:
            raise ConfigError(f"target_tau: must be in (0, 1], got {self.target_tau}")
