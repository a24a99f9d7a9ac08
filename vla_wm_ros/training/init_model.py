"""The model a new training run starts from: fresh from the preset, or (`init_from`) an
existing checkpoint's weights and architecture, with the run's auxiliary state heads added;
and (`fresh_actor`) a checkpoint with a new actor of another size for DAgger to clone into.

Starting from a checkpoint keeps what it learned (a fine-tune on more data, or with a new
training-only head) without a script that edits state dicts by hand."""

from __future__ import annotations

import dataclasses

from vla_wm_ros.config.model import WorldModelConfig
from vla_wm_ros.data.layout import ENV_STATE
from vla_wm_ros.data.reader import EpisodeDataset
from vla_wm_ros.models.checkpoint import load_checkpoint
from vla_wm_ros.models.world_model import STATE_HEADS, WorldModel

# Training-only heads: the only parameters a started-from checkpoint may lack or carry.
AUXILIARY = tuple(f"{name}." for name in STATE_HEADS)


class InitError(ValueError):
    pass


def started_config(source: WorldModelConfig, run: WorldModelConfig, where: str) -> WorldModelConfig:
    """The source's architecture with the run's state losses; data of other sizes is refused
    (`where` names the checkpoint in the error)."""
    for name in ("action_dim", "proprio_dim", "goal_dim"):
        if getattr(source, name) != getattr(run, name):
            raise InitError(
                f"init_from {where}: {name} is {getattr(source, name)}, the data gives "
                f"{getattr(run, name)}"
            )
    if source.encoder.image_size != run.encoder.image_size:
        raise InitError(
            f"init_from {where}: sees {source.encoder.image_size}px images, the data has "
            f"{run.encoder.image_size}px"
        )
    loss = dataclasses.replace(source.loss, state=run.loss.state, view_state=run.loss.view_state)
    return dataclasses.replace(source, loss=loss, environment_state_dim=run.environment_state_dim)


def _copy_weights(source: WorldModel, target: WorldModel, fresh: tuple[str, ...], where: str):
    """Every parameter of `source` into `target` except those under the `fresh` prefixes,
    which keep their new draw; any other mismatch is an InitError naming `where`."""
    state = {k: v for k, v in source.state_dict().items() if not k.startswith(fresh)}
    missing, unexpected = target.load_state_dict(state, strict=False)
    odd = [k for k in [*missing, *unexpected] if not k.startswith(fresh)]
    if odd:
        raise InitError(f"{where}: parameters do not match: {odd[:5]}")


def initial_model(run_cfg: WorldModelConfig, init_from: str, dataset: EpisodeDataset) -> WorldModel:
    """A new run's model. The training-only state heads always start fresh (a source's own
    heads are dropped), predicting in this data's units."""
    if init_from:
        source = load_checkpoint(init_from)
        wm = WorldModel(started_config(source.cfg, run_cfg, str(init_from)))
        _copy_weights(source, wm, AUXILIARY, f"init_from {init_from}")
    else:
        wm = WorldModel(run_cfg)
    heads = wm.state_heads().values()
    if heads:
        moments = dataset.moments()[ENV_STATE]
        for head in heads:
            head.set_scale(moments.mean, moments.std)
    return wm


def fresh_actor(wm: WorldModel, hidden: int, layers: int) -> WorldModel:
    """`wm` with an untrained actor `hidden` wide and `layers` deep; every other weight
    (world model, critic, offline value) copied. The actor reads the frozen belief, so a
    wider one can be cloned afresh (DAgger round 0 with beta 1) without retraining the rest."""
    ac = dataclasses.replace(wm.cfg.actor_critic, actor_hidden=hidden, actor_layers=layers)
    new = WorldModel(dataclasses.replace(wm.cfg, actor_critic=ac))
    _copy_weights(wm, new, ("actor.",), "fresh_actor")
    return new
