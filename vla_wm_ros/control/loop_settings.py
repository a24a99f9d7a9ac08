"""The control loop's timing settings: the one home of their defaults.

The planner node's parameters of the same names are generated from these fields
(ros/parameters.params_from) and config/controller.yaml is checked against them, so a
default is changed here and nowhere else. Kept free of torch: the graph description
(and with it the launch file) reads the control frequency's default from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from vla_wm_ros.config import ConfigError
from vla_wm_ros.config.fields import doc


@dataclass
class LoopSettings:
    control_frequency: float = field(
        default=10.0, metadata=doc("control ticks per second (Hz)", 0.1, 1000.0)
    )
    deadline_fraction: float = field(
        default=0.6,
        metadata=doc("planning must finish this far into the control period", 0.05, 1.0),
    )
    fallback_fraction: float = field(
        default=0.85,
        metadata=doc(
            "a plan not back this far into the period is abandoned for the actor's action",
            0.05,
            1.0,
        ),
    )
    max_latent_age: float = field(
        default=0.3,
        metadata=doc(
            "seconds after which a belief is stale and the safe action is sent", 0.001, 60.0
        ),
    )
    lockstep: bool = field(
        default=False,
        metadata=doc(
            "act once per new belief and wait for the next (up to 2 s) rather than hold "
            "(evaluation against sim_bridge step_mode on_action, which waits for every action)"
        ),
    )
    trigger: Literal["timer", "belief"] = field(
        default="timer",
        metadata=doc("plan on every timer tick, or as soon as each new belief arrives"),
    )
    stats_window: int = field(
        default=200, metadata=doc("ticks behind rate and latency figures", 2, 100000)
    )

    @property
    def period(self) -> float:
        return 1.0 / self.control_frequency

    def validate(self) -> None:
        if self.trigger not in ("timer", "belief"):
            raise ConfigError(f"trigger {self.trigger!r} is not one of timer, belief")
        if self.fallback_fraction < self.deadline_fraction:
            raise ConfigError(
                f"fallback_fraction {self.fallback_fraction} must not be below "
                f"deadline_fraction {self.deadline_fraction}"
            )
