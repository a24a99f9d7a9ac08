"""Training settings as dataclasses; presets `tiny` and `default` in config/train_presets/."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from vla_wm_ros.config.loader import ConfigError, load_packaged_preset

STAGES = ("temporal", "world_model", "dynamics", "actor_critic")
TRAIN_PRESETS = ("tiny", "default", "long")


@dataclass
class StageConfig:
    """One stage: how many optimiser steps, on which batches, at which learning rate."""

    steps: int = 1000
    batch_size: int = 16
    seq_len: int = 32
    lr: float = 3e-4

    def validate(self) -> None:
        if self.steps < 0 or self.batch_size <= 0 or self.seq_len < 2 or self.lr <= 0:
            raise ConfigError(
                f"stage needs steps >= 0, batch_size > 0, seq_len >= 2, lr > 0; got {self}"
            )


@dataclass
class ActorCriticStage(StageConfig):
    """Stage 6: behaviour cloning first (`bc_steps`), then actor-critic in imagination."""

    bc_steps: int = 1000
    critic_lr: float = 3e-4
    # Weight of the behaviour-cloning term kept during actor-critic, so imagination cannot
    # drift the actor away from the demonstrations where the model is wrong.
    bc_weight: float = 1.0
    # Policies whose actions are demonstrations (behaviour cloning targets).
    demo_policies: list[str] = field(default_factory=lambda: ["expert"])


@dataclass
class SpeedConfig:
    """How the steps run on this machine; what is learned changes only by bf16 rounding.

    Measured with `vla-wm bench train` (models/MODEL_CARD.md, "Training throughput").
    """

    # Decode every training frame once into memory (data.frame_store) instead of an LRU
    # cache of episodes read and PNG-decoded on a miss.
    preload: bool = True
    # Channels-last layout for the conv encoder/decoder (oneDNN's preferred layout).
    channels_last: bool = True
    # bf16 autocast over the conv stacks only: "auto" turns it on where the CPU has native
    # bf16 (AVX-512 BF16 or AMX), where it measured faster; emulated bf16 is slower.
    bf16_convs: Literal["auto", "on", "off"] = "auto"


@dataclass
class TrainConfig:
    model: str = "default"  # world-model preset (config/presets/)
    # > 0: also train the world model to decode the simulator's environment state (object
    # and goal poses) from its latent, with this weight (the preset's loss.state otherwise);
    # needs data with observation.environment_state (`vla-wm collect`).
    environment_state_loss: float = 0.0
    # > 0: decode the same state from each frame's image features alone (loss.view_state):
    # the encoder must read object and goal from the pixels, which carries over to new
    # placements where the latent's own head can memorise the training episodes instead.
    view_state_loss: float = 0.0
    # What the state losses count: the state's dimensions listed (empty: all), each in
    # units of `state_resolution` (the state's units, metres in Meta-World) where the data
    # spreads wider (0: in the data's standard deviations). Meta-World's hand, objects and
    # goal: [0, 1, 2, 4, 5, 6, 11, 12, 13, 36, 37, 38], resolution 0.01.
    state_dims: list[int] = field(default_factory=list)
    state_resolution: float = 0.0
    # > 0: stage 2 moves each training sequence by a random offset of up to this many
    # pixels (training/augment.py), so the encoder reads where things are rather than
    # remembering the pixels of the training placements. 0: the images as recorded.
    image_shift: int = 0
    # A checkpoint directory to start from (its architecture and weights; new training-only
    # heads start fresh); empty: a fresh model from the preset `model`.
    init_from: str = ""
    seed: int = 0
    val_fraction: float = 0.1
    grad_clip: float = 100.0
    checkpoint_every: int = 200  # optimiser steps between resumable checkpoints
    log_every: int = 20
    loader_cache_episodes: int = 128
    temporal: StageConfig = field(default_factory=lambda: StageConfig(steps=200))
    world_model: StageConfig = field(default_factory=StageConfig)
    dynamics: StageConfig = field(default_factory=lambda: StageConfig(steps=200))
    # Stage 3 trains these latent dynamics models; the one named by the model config's
    # dynamics.kind lives in the world model, the others are saved beside it.
    dynamics_kinds: list[str] = field(
        default_factory=lambda: ["ensemble", "deterministic", "stochastic", "flow"]
    )
    actor_critic: ActorCriticStage = field(default_factory=ActorCriticStage)
    speed: SpeedConfig = field(default_factory=SpeedConfig)

    def validate(self) -> None:
        if not 0.0 < self.val_fraction < 1.0:
            raise ConfigError(f"val_fraction must be in (0, 1), got {self.val_fraction}")
        if self.state_resolution < 0 or any(d < 0 for d in self.state_dims):
            raise ConfigError("state_resolution and state_dims must be >= 0")
        if self.image_shift < 0:
            raise ConfigError(f"image_shift must be >= 0 pixels, got {self.image_shift}")
        if self.checkpoint_every <= 0 or self.log_every <= 0:
            raise ConfigError("checkpoint_every and log_every must be positive")
        unknown = set(self.dynamics_kinds) - {"deterministic", "stochastic", "ensemble", "flow"}
        if unknown:
            raise ConfigError(f"dynamics_kinds: unknown {sorted(unknown)}")


def load_train_preset(name: str) -> TrainConfig:
    return load_packaged_preset(
        TrainConfig, "vla_wm_ros.config", "train_presets", name, TRAIN_PRESETS, "training"
    )
