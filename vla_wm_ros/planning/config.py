"""Planner configuration: dataclasses read and written with vla_wm_ros.config.loader.

Two presets ship beside this module (`presets/*.yaml`): `default`, sized for a 10 Hz
control tick on a 2-core CPU, and `seed`, the seed document's settings (1000 samples,
horizon 15; CEM top-k 100 over 5 iterations; MPPI temperature 0.1, noise 0.5, one pass).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from vla_wm_ros.config.loader import ConfigError, load_packaged_preset

PlannerKind = Literal["mppi", "cem", "gradient", "hierarchical"]
PLANNER_PRESETS = ("default", "seed")


@dataclass
class SafetyConfig:
    """Uncertainty-aware planning: penalise ensemble disagreement, fall back when it is high.

    disagreement_penalty scales the discounted sum of per-step disagreement subtracted from
    each sample's score. threshold (None: never) compares the chosen plan's mean
    disagreement; above it the planner returns safe_action (empty: zeros, i.e. hold).
    """

    disagreement_penalty: float = 0.0
    threshold: float | None = None
    safe_action: list[float] = field(default_factory=list)

    def validate(self) -> None:
        if self.disagreement_penalty < 0:
            raise ConfigError(f"disagreement_penalty must be >= 0, got {self.disagreement_penalty}")
        if self.threshold is not None and self.threshold < 0:
            raise ConfigError(f"threshold must be >= 0 or null, got {self.threshold}")


@dataclass
class SamplingConfig:
    """Settings shared by the sampling planners (MPPI, CEM), TD-MPC2 style.

    policy_samples of the samples are trajectories of the actor prior, rolled out once per
    plan: the first is its mode trajectory (the actor's deterministic action at every
    imagined step), so the plan can always fall back on exactly what the actor would do;
    the others sample the actor's distribution. The rest are Gaussian around a mean that
    starts at prior_weight * mode trajectory + (1 - prior_weight) * the previous plan
    shifted by one step (warm_start; with no previous plan, or no prior, the one that
    exists; with neither, zeros), with std max_std; the std never drops below min_std.
    prior_penalty subtracts from each sample's score prior_penalty times the discounted
    sum over steps of the mean squared difference between its action and the actor's mode
    action at the imagined state it is taken in: a learned reward and critic are trusted
    only as far as they pay for leaving the actor (0: unconstrained). prior_margin (None:
    off): when the chosen plan's predicted return beats the mode trajectory's by less
    than this, the mode trajectory is the plan, so the actor's own action is sent unless
    the model predicts a clear gain from leaving it.
    The action sent is the first of the final distribution's mean (action_choice "mean")
    or of the best-scoring sample of the last iteration ("best").
    """

    horizon: int = 5
    iterations: int = 4
    samples: int = 256
    elites: int = 32
    policy_samples: int = 16
    discount: float = 0.99
    max_std: float = 0.5
    min_std: float = 0.05
    warm_start: bool = True
    prior_weight: float = 0.5
    prior_penalty: float = 0.0
    prior_margin: float | None = None
    action_choice: Literal["mean", "best"] = "mean"
    seed: int = 0

    def validate(self) -> None:
        for name in ("horizon", "iterations", "samples", "elites"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0 <= self.policy_samples < self.samples:
            raise ConfigError(
                f"policy_samples must be in [0, samples={self.samples}), got {self.policy_samples}"
            )
        if self.elites > self.samples:
            raise ConfigError(f"elites ({self.elites}) exceed samples ({self.samples})")
        if not 0 < self.discount <= 1:
            raise ConfigError(f"discount must be in (0, 1], got {self.discount}")
        if not 0 < self.min_std <= self.max_std:
            raise ConfigError(
                f"need 0 < min_std <= max_std, got min_std={self.min_std} max_std={self.max_std}"
            )
        if self.prior_penalty < 0:
            raise ConfigError(f"prior_penalty must be >= 0, got {self.prior_penalty}")
        if not 0 <= self.prior_weight <= 1:
            raise ConfigError(f"prior_weight must be in [0, 1], got {self.prior_weight}")


@dataclass
class MPPIConfig(SamplingConfig):
    """MPPI: elites weighted by softmax(return / temperature)."""

    temperature: float = 0.5

    def validate(self) -> None:
        super().validate()
        if self.temperature <= 0:
            raise ConfigError(f"temperature must be > 0, got {self.temperature}")


@dataclass
class CEMConfig(SamplingConfig):
    """CEM: the next distribution is the elites' unweighted mean and std."""


@dataclass
class GradientMPCConfig:
    """Receding-horizon gradient MPC tracking a reference latent trajectory.

    Cost per plan: mean squared feature error to the reference at every step, plus
    smoothness times the squared change between consecutive actions (the first against
    the action sent on the previous tick), plus safety.disagreement_penalty times the
    summed ensemble disagreement. Adam's state persists across ticks.
    """

    horizon: int = 10
    iterations: int = 10
    learning_rate: float = 0.1
    smoothness: float = 0.1
    warm_start: bool = True

    def validate(self) -> None:
        for name in ("horizon", "iterations"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.learning_rate <= 0:
            raise ConfigError(f"learning_rate must be > 0, got {self.learning_rate}")
        if self.smoothness < 0:
            raise ConfigError(f"smoothness must be >= 0, got {self.smoothness}")


@dataclass
class HierarchicalConfig:
    """A slow sampling planner picks a latent subgoal every subgoal_every ticks: the
    imagined state that many steps along its plan. Gradient MPC tracks it in between."""

    subgoal_every: int = 5
    slow: Literal["mppi", "cem"] = "mppi"

    def validate(self) -> None:
        if self.subgoal_every < 1:
            raise ConfigError(f"subgoal_every must be >= 1, got {self.subgoal_every}")


@dataclass
class PlannerConfig:
    """Which planner runs (kind) and the settings of each.

    precision: the sampling planners' compute precision (planning/precision.py): auto =
    bf16 on CPUs with native bf16 and on CUDA, fp32 elsewhere. compiled_rollout: run each
    iteration's rollout as one torch.compile'd graph (faster per plan, tens of seconds to
    compile on the first plan).
    """

    kind: PlannerKind = "mppi"
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    compiled_rollout: bool = False
    mppi: MPPIConfig = field(default_factory=MPPIConfig)
    cem: CEMConfig = field(default_factory=CEMConfig)
    gradient: GradientMPCConfig = field(default_factory=GradientMPCConfig)
    hierarchical: HierarchicalConfig = field(default_factory=HierarchicalConfig)
    safety: SafetyConfig = field(default_factory=SafetyConfig)

    def validate(self) -> None:
        slow = getattr(self, self.hierarchical.slow)
        if self.kind == "hierarchical" and slow.horizon < self.hierarchical.subgoal_every:
            raise ConfigError(
                f"hierarchical.subgoal_every ({self.hierarchical.subgoal_every}) exceeds "
                f"the slow planner's horizon ({self.hierarchical.slow}.horizon={slow.horizon})"
            )


def load_planner_preset(name: str) -> PlannerConfig:
    """One of PLANNER_PRESETS, shipped as YAML beside this module."""
    return load_packaged_preset(
        PlannerConfig, __package__, "presets", name, PLANNER_PRESETS, "planner"
    )
