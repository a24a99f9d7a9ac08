"""Average the actor weights of checkpoints that share one world model (a "model soup").

DAgger's rounds move the small actor far: rollout success swings from round to round, and
the last round is not reliably the best. The mean of several rounds' actor weights (same
run, same starting point, so the weights stay in one basin) is steadier than any one of
them, as stochastic weight averaging is for SGD iterates. Only the actor is averaged; the
rest of every checkpoint must be identical, or the actor would be read on features it was
not trained on.
"""

from __future__ import annotations

import dataclasses

import torch

from vla_wm_ros.config.loader import ConfigError
from vla_wm_ros.models.world_model import WorldModel


def average_actors(models: list[WorldModel]) -> WorldModel:
    """The last model of `models` with its actor replaced by the mean of all their actors."""
    if len(models) < 2:
        raise ConfigError("average: give at least two checkpoints")
    base = models[-1]
    shared = {k: v for k, v in base.state_dict().items() if not k.startswith("actor.")}
    for n, model in enumerate(models[:-1]):
        theirs = model.state_dict()
        differ = [k for k, v in shared.items() if k not in theirs or not torch.equal(theirs[k], v)]
        if differ:
            raise ConfigError(
                f"average: checkpoint {n} differs from the last outside the actor "
                f"({len(differ)} tensors, e.g. {differ[0]}); only actors of one world model "
                "can be averaged"
            )
    states = [m.actor.state_dict() for m in models]
    base.actor.load_state_dict(
        {
            k: torch.stack([s[k].float() for s in states]).mean(0).to(v.dtype)
            for k, v in states[-1].items()
        }
    )
    return base


def attach_value(model: WorldModel, donor: WorldModel) -> WorldModel:
    """`model` with the offline value (config + Q/V heads) of `donor`, a checkpoint of the
    same world model. The IQL value is fitted on recorded actions only, never the actor's,
    so it holds for any actor on these features (e.g. DAgger rounds averaged meanwhile)."""
    if donor.offline_value is None:
        raise ConfigError("average: the --value-from checkpoint has no offline value")
    skip = ("actor.", "offline_value.")
    mine = {k: v for k, v in model.state_dict().items() if not k.startswith(skip)}
    theirs = {k: v for k, v in donor.state_dict().items() if not k.startswith(skip)}
    differ = [k for k, v in mine.items() if k not in theirs or not torch.equal(theirs[k], v)]
    if differ or mine.keys() != theirs.keys():
        raise ConfigError(
            "average: the --value-from checkpoint has another world model "
            f"(e.g. {(differ or sorted(mine.keys() ^ theirs.keys()))[0]}); a value is read "
            "on the features it was fitted on"
        )
    model.cfg = dataclasses.replace(model.cfg, value=donor.cfg.value)
    model.offline_value = donor.offline_value
    return model
