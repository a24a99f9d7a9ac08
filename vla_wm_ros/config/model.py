"""The world model's configuration: one dataclass tree, saved beside every checkpoint.

Sizes live here and nowhere else; `validate()` refuses impossible combinations before any
tensor is allocated. Presets (`seed`, `tiny`, `default`) are YAML files in
`config/presets/`, loaded with `load_preset(name)`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from vla_wm_ros.config.checks import Activation, non_negative, positive
from vla_wm_ros.config.loader import ConfigError, load_packaged_preset
from vla_wm_ros.config.value import ValueConfig


@dataclass
class EncoderConfig:
    """Observation encoder: image backbone fused with proprioception into one embedding."""

    # "conv": Dreamer-style strided conv net; "pretrained": a local transformers vision
    # model (ViT, SigLIP, CLIP vision tower) at `pretrained`; "none": proprioception only.
    backbone: Literal["conv", "pretrained", "none"] = "conv"
    image_size: int = 64
    depth: int = 32  # channels of the first conv stage; doubled at every stage
    min_resolution: int = 4  # the conv stages halve the image until this size
    pretrained: str = ""  # local directory of a transformers vision model
    freeze_pretrained: bool = True
    proprio_hidden: int = 128
    embed_dim: int = 512  # size of the fused embedding the RSSM posterior sees
    act: Activation = "silu"
    norm: bool = True

    def validate(self) -> None:
        positive(image_size=self.image_size, depth=self.depth, embed_dim=self.embed_dim)
        positive(proprio_hidden=self.proprio_hidden, min_resolution=self.min_resolution)
        if self.backbone != "none":  # the conv encoder and the image decoder both need it
            ratio = self.image_size / self.min_resolution
            if ratio < 2 or ratio != 2 ** round(math.log2(ratio)):
                raise ConfigError(
                    f"image_size: {self.image_size} must be min_resolution "
                    f"({self.min_resolution}) times a power of two >= 2"
                )
        if self.backbone == "pretrained" and not self.pretrained:
            raise ConfigError("pretrained: backbone 'pretrained' needs a local model directory")

    @property
    def conv_stages(self) -> int:
        return round(math.log2(self.image_size / self.min_resolution))


@dataclass
class TemporalConfig:
    """History encoder over (observation embedding, previous action) sequences; causal."""

    kind: Literal["none", "transformer", "lstm", "gru", "tcn", "mamba", "cross_transformer"] = (
        "transformer"
    )
    context_dim: int = 256
    history_length: int = 16  # longest history the positional encoding covers
    layers: int = 4
    heads: int = 8
    ff_mult: int = 4
    dropout: float = 0.1
    kernel_size: int = 3  # TCN
    ssm_state: int = 16  # Mamba: state size per channel
    ssm_conv: int = 4  # Mamba: causal depthwise conv width
    ssm_expand: int = 2  # Mamba: inner width = expand * context_dim

    def validate(self) -> None:
        positive(context_dim=self.context_dim, history_length=self.history_length)
        positive(layers=self.layers, heads=self.heads, ff_mult=self.ff_mult)
        positive(kernel_size=self.kernel_size, ssm_state=self.ssm_state)
        positive(ssm_conv=self.ssm_conv, ssm_expand=self.ssm_expand)
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout: must be in [0, 1), got {self.dropout}")
        attention = self.kind in ("transformer", "cross_transformer")
        if attention and self.context_dim % self.heads:
            raise ConfigError(
                f"heads: context_dim {self.context_dim} is not divisible by {self.heads} heads"
            )


@dataclass
class RSSMConfig:
    """Recurrent state-space model: deterministic GRU path plus a stochastic latent."""

    latent: Literal["gaussian", "discrete"] = "gaussian"
    deter: int = 256  # GRU width per layer; the state holds gru_layers * deter numbers
    gru_layers: int = 1
    stoch: int = 32  # Gaussian latent size
    categories: int = 32  # discrete latent: number of categoricals
    classes: int = 32  # discrete latent: classes per categorical
    hidden: int = 512
    prior_layers: int = 1  # hidden layers of the prior MLP p(z_t | h_t)
    posterior_layers: int = 1  # hidden layers of the posterior MLP q(z_t | h_t, e_t)
    min_std: float = 0.1
    max_std: float = 2.0
    unimix: float = 0.01  # discrete latent: mix of the uniform distribution into each class
    act: Activation = "silu"
    norm: bool = True

    def validate(self) -> None:
        positive(deter=self.deter, gru_layers=self.gru_layers, hidden=self.hidden)
        positive(stoch=self.stoch, categories=self.categories, classes=self.classes)
        positive(prior_layers=self.prior_layers, posterior_layers=self.posterior_layers)
        positive(min_std=self.min_std)
        if self.max_std <= self.min_std:
            raise ConfigError(f"max_std: {self.max_std} must exceed min_std {self.min_std}")
        if not 0.0 <= self.unimix < 1.0:
            raise ConfigError(f"unimix: must be in [0, 1), got {self.unimix}")
        if self.latent == "discrete" and self.classes < 2:
            raise ConfigError(f"classes: a categorical needs >= 2 classes, got {self.classes}")

    @property
    def deter_size(self) -> int:
        return self.deter * self.gru_layers

    @property
    def stoch_size(self) -> int:
        return self.stoch if self.latent == "gaussian" else self.categories * self.classes


@dataclass
class HeadsConfig:
    """Decoder, reward and continue heads (reward is goal-conditioned)."""

    hidden: int = 256
    layers: int = 2
    decoder_depth: int = 32  # channels of the last transposed-conv stage
    act: Activation = "silu"
    norm: bool = True

    def validate(self) -> None:
        positive(hidden=self.hidden, layers=self.layers, decoder_depth=self.decoder_depth)


@dataclass
class DynamicsConfig:
    """Stage-3 latent dynamics model over frozen features (and the planner's ensemble)."""

    kind: Literal["none", "deterministic", "stochastic", "ensemble", "flow"] = "ensemble"
    hidden: int = 512
    layers: int = 2
    ensemble_size: int = 5
    flow_blocks: int = 4
    min_log_std: float = -10.0
    max_log_std: float = 2.0
    act: Activation = "silu"

    def validate(self) -> None:
        positive(hidden=self.hidden, layers=self.layers, flow_blocks=self.flow_blocks)
        if self.kind == "ensemble" and self.ensemble_size < 2:
            raise ConfigError(
                f"ensemble_size: disagreement needs >= 2 members, got {self.ensemble_size}"
            )
        if self.max_log_std <= self.min_log_std:
            raise ConfigError("max_log_std: must exceed min_log_std")


@dataclass
class ActorCriticConfig:
    """Goal-conditioned tanh-Gaussian actor and critic trained in imagination."""

    hidden: int = 256
    layers: int = 2
    # The actor's own width and depth; 0: as the critic's (hidden, layers). Cloning ten
    # tasks' expert from the belief needed a wider actor than the critic.
    actor_hidden: int = 0
    actor_layers: int = 0
    min_std: float = 0.1
    max_std: float = 1.0
    horizon: int = 15
    gamma: float = 0.99
    lambda_: float = 0.95
    entropy_scale: float = 3e-4
    target_tau: float = 0.02
    return_norm_decay: float = 0.99
    return_norm_low: float = 5.0  # percentile
    return_norm_high: float = 95.0  # percentile
    act: Activation = "silu"
    norm: bool = True

    def validate(self) -> None:
        positive(hidden=self.hidden, layers=self.layers, horizon=self.horizon)
        positive(min_std=self.min_std)
        non_negative(entropy_scale=self.entropy_scale)
        non_negative(actor_hidden=self.actor_hidden, actor_layers=self.actor_layers)
        if self.max_std <= self.min_std:
            raise ConfigError(f"max_std: {self.max_std} must exceed min_std {self.min_std}")
        for name in ("gamma", "lambda_", "return_norm_decay"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"{name}: must be in [0, 1], got {value}")
        if not 0.0 < self.target_tau <= 1.0:
            raise ConfigError(f"target_tau: must be in (0, 1], got {self.target_tau}")
        if not 0.0 <= self.return_norm_low < self.return_norm_high <= 100.0:
            raise ConfigError("return_norm_low/high: need 0 <= low < high <= 100")


@dataclass
class LossConfig:
    """World-model loss scales, KL balancing and free bits (per step, per KL term)."""

    image: float = 1.0
    proprio: float = 1.0
    reward: float = 1.0
    cont: float = 1.0
    kl_dyn: float = 1.0  # KL(sg(posterior) || prior): trains the prior
    kl_rep: float = 0.1  # KL(posterior || sg(prior)): trains the representation
    free_nats: float = 1.0  # each step's KL term is clipped below at this value
    # Auxiliary, training only: decode the simulator's environment state (object and goal
    # poses, standardised) from the latent, so that the belief holds where things are;
    # 0 = no state head. Needs data with observation.environment_state.
    state: float = 0.0
    # The same state decoded from each frame's image features alone (no history, no
    # proprioception): the latent can answer `state` by remembering which training episode
    # it is in; a per-frame head can only answer by reading the pixels, which is what
    # carries over to placements never seen. 0 = no such head. Needs an image backbone.
    view_state: float = 0.0

    def validate(self) -> None:
        non_negative(image=self.image, proprio=self.proprio, reward=self.reward, state=self.state)
        non_negative(view_state=self.view_state)
        non_negative(cont=self.cont, kl_dyn=self.kl_dyn, kl_rep=self.kl_rep)
        non_negative(free_nats=self.free_nats)


@dataclass
class WorldModelConfig:
    """Everything needed to rebuild a WorldModel; stored as config.yaml in a checkpoint."""

    action_dim: int = 7
    proprio_dim: int = 4
    goal_dim: int = 384  # sentence-embedding size (all-MiniLM-L6-v2)
    environment_state_dim: int = 0  # the state heads' output (loss.state/view_state > 0)
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    temporal: TemporalConfig = field(default_factory=TemporalConfig)
    rssm: RSSMConfig = field(default_factory=RSSMConfig)
    heads: HeadsConfig = field(default_factory=HeadsConfig)
    dynamics: DynamicsConfig = field(default_factory=DynamicsConfig)
    actor_critic: ActorCriticConfig = field(default_factory=ActorCriticConfig)
    value: ValueConfig = field(default_factory=ValueConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    # The seed's language backbone, kept for the record and never loaded: language enters
    # the model as a sentence-embedding goal (goal_dim) from the grounding encoder.
    vlm_backbone: str = ""

    def validate(self) -> None:
        """Check this level and every section (sections built in code skip the loader)."""
        for name in SECTIONS:
            try:
                getattr(self, name).validate()
            except ConfigError as exc:
                raise ConfigError(f"{name}.{exc}") from None
        positive(action_dim=self.action_dim, goal_dim=self.goal_dim)
        non_negative(proprio_dim=self.proprio_dim, environment_state_dim=self.environment_state_dim)
        for name in ("state", "view_state"):
            if getattr(self.loss, name) and not self.environment_state_dim:
                raise ConfigError(
                    f"loss.{name} needs environment_state_dim > 0 (the data's state size)"
                )
        if self.loss.view_state and self.encoder.backbone == "none":
            raise ConfigError("loss.view_state needs an image backbone (encoder.backbone)")
        if self.encoder.backbone == "none" and self.proprio_dim == 0:
            raise ConfigError("encoder.backbone: 'none' needs proprio_dim > 0 (nothing to see)")

    @property
    def feature_dim(self) -> int:
        return self.rssm.deter_size + self.rssm.stoch_size


SECTIONS = ("encoder", "temporal", "rssm", "heads", "dynamics", "actor_critic", "value", "loss")
PRESETS = ("seed", "tiny", "default")


def load_preset(name: str) -> WorldModelConfig:
    """The named preset (`seed`, `tiny` or `default`) as a validated config."""
    return load_packaged_preset(
        WorldModelConfig, "vla_wm_ros.config", "presets", name, PRESETS, "world-model"
    )
