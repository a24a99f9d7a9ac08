"""The grounding backend, chosen by config: `sentence` (text only) or `vlm` (text + camera frame).

Both answer `ground(text, image) -> Grounding` with a goal embedding in the world model's
goal space. The suite and the goal-space encoder are the sentence grounder's settings
(`sentence.suite`, `sentence.encoder`) for both backends; with a checkpoint given, that
encoder must be the one the checkpoint records, or nothing is built.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from vla_wm_ros.config.loader import ConfigError
from vla_wm_ros.language.encoder import SentenceEncoder
from vla_wm_ros.language.goal_space import GoalSpace, check_goal_space
from vla_wm_ros.language.grounding import Grounder, GrounderConfig
from vla_wm_ros.language.suite import load_suite
from vla_wm_ros.language.vlm import VLMConfig, VLMGrounder

BACKENDS = ("sentence", "vlm")


@dataclass
class GroundingConfig:
    backend: str = "sentence"  # sentence | vlm
    sentence: GrounderConfig = field(default_factory=GrounderConfig)
    vlm: VLMConfig = field(default_factory=VLMConfig)
    # Seconds an instruction may take to ground before it is refused (the running goal stays).
    timeout: float = 10.0

    def validate(self) -> None:
        if self.backend not in BACKENDS:
            raise ConfigError(f"backend must be one of {', '.join(BACKENDS)}, got {self.backend!r}")
        if self.timeout <= 0:
            raise ConfigError(f"timeout must be positive, got {self.timeout}")


def build_grounder(
    config: GroundingConfig, checkpoint: str | Path | None = None
) -> Grounder | VLMGrounder:
    """The configured backend; refuses an encoder that is not the checkpoint's goal space."""
    config.validate()
    encoder = SentenceEncoder(config.sentence.encoder)
    if checkpoint is not None:
        check_goal_space(checkpoint, GoalSpace.of_encoder(encoder))
    suite = load_suite(config.sentence.suite)
    if config.backend == "sentence":
        return Grounder.from_suite(suite, encoder, config.sentence)
    return VLMGrounder(config.vlm, suite, encoder)
