"""What the world-model config sections share: activation names and bound checks.

Each section validates its own fields with these, so every bad value is refused with the
same message naming the field.
"""

from __future__ import annotations

from typing import Literal

from vla_wm_ros.config.loader import ConfigError

Activation = Literal["silu", "elu", "relu", "gelu", "tanh"]


def positive(**values: int | float) -> None:
    """Refuse any of `values` (name=value) that is not > 0."""
    for name, value in values.items():
        if value <= 0:
            raise ConfigError(f"{name}: must be positive, got {value}")


def non_negative(**values: int | float) -> None:
    """Refuse any of `values` (name=value) that is < 0."""
    for name, value in values.items():
        if value < 0:
            raise ConfigError(f"{name}: must be >= 0, got {value}")
