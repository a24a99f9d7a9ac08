"""The optimiser step of each stage (seed stages 1, 2, 3 and 6) as closures for the loop.

Each builder returns (step, modules, optimisers): the loop runs `step`, and saves the
modules and optimisers it is given so a killed run resumes exactly.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import Tensor, nn

from vla_wm_ros.data.loader import SequenceLoader
from vla_wm_ros.models.dynamics.factory import build_dynamics
from vla_wm_ros.models.rssm import flatten_time
from vla_wm_ros.models.world_model import WorldModel
from vla_wm_ros.training.augment import shift_sequences
from vla_wm_ros.training.config import ActorCriticStage, TrainConfig
from vla_wm_ros.training.loop import clip_step
from vla_wm_ros.training.temporal import TemporalObjectives

# Demonstrated actions saturate at the bounds; a tanh policy's log-likelihood needs them
# strictly inside (atanh(0.99) = 2.6 keeps the pre-tanh targets moderate).
BC_ACTION_LIMIT = 0.99


def _adam(params: list[nn.Parameter], lr: float) -> torch.optim.Adam:
    return torch.optim.Adam(params, lr=lr, eps=1e-6)


def temporal_step(wm: WorldModel, loader: SequenceLoader, cfg: TrainConfig):
    """Stage 1: encoder + temporal encoder on next-obs, InfoNCE and masked modelling."""
    if wm.temporal is None:
        raise ValueError("stage temporal: the model config has temporal.kind 'none'")
    aux = TemporalObjectives(wm.temporal.context_dim, wm.encoder.out_dim)
    params = [*wm.encoder.parameters(), *wm.temporal.parameters(), *aux.parameters()]
    opt = _adam(params, cfg.temporal.lr)

    def step(i: int) -> dict[str, float]:
        wm.train()
        losses = aux.losses(wm, loader.sample())
        total = sum(losses.values())
        norm = clip_step(total, opt, params, cfg.grad_clip)
        terms = {k: float(v.detach()) for k, v in losses.items()}
        return {"total": float(total.detach()), **terms, "grad": norm}

    modules = {"encoder": wm.encoder, "temporal": wm.temporal, "objectives": aux}
    return step, modules, {"adam": opt}


def world_model_step(wm: WorldModel, loader: SequenceLoader, cfg: TrainConfig):
    """Stage 2: reconstruction + balanced KL + goal-conditioned reward + continue (+ the
    environment state, when the model has a state head), on images shifted by up to
    `cfg.image_shift` pixels."""
    parts = {
        "encoder": wm.encoder,
        "rssm": wm.rssm,
        "decoder": wm.decoder,
        "reward_head": wm.reward_head,
        "continue_head": wm.continue_head,
    }
    parts |= wm.state_heads()  # the auxiliary state losses (loss.state, loss.view_state)
    params = [p for m in parts.values() for p in m.parameters()]
    opt = _adam(params, cfg.world_model.lr)

    def step(i: int) -> dict[str, float]:
        wm.train()
        batch = loader.sample()
        if cfg.image_shift and "image" in batch:
            batch["image"] = shift_sequences(batch["image"], cfg.image_shift)
        out = wm.world_model_loss(batch)
        norm = clip_step(out.total, opt, params, cfg.grad_clip)
        return {**{k: float(v) for k, v in out.terms.items()}, "grad": norm}

    return step, parts, {"adam": opt}


def dynamics_models(wm: WorldModel, kinds: list[str]) -> dict[str, nn.Module]:
    """The stage-3 models: the world model's own kind, and fresh ones for the others."""
    feat = wm.rssm.feature_dim
    models = {}
    for kind in kinds:
        if kind == wm.cfg.dynamics.kind and wm.dynamics is not None:
            models[kind] = wm.dynamics
        else:
            models[kind] = build_dynamics(
                dataclasses.replace(wm.cfg.dynamics, kind=kind), feat, wm.action_dim
            )
    return models


def dynamics_step(wm: WorldModel, loader: SequenceLoader, cfg: TrainConfig, models: dict):
    """Stage 3: latent dynamics on frozen posterior features: (f_t, a_t) -> f_{t+1}."""
    params = [p for m in models.values() for p in m.parameters()]
    opt = _adam(params, cfg.dynamics.lr)

    def step(i: int) -> dict[str, float]:
        batch = loader.sample()
        with torch.no_grad():
            wm.eval()
            feat = wm.feature(wm.observe(batch).posterior)
        state = feat[:, :-1].flatten(0, 1)
        action = batch["action"][:, :-1].flatten(0, 1)
        target = feat[:, 1:].flatten(0, 1)
        losses = {kind: m.loss(state, action, target) for kind, m in models.items()}
        total = sum(losses.values())
        clip_step(total, opt, params, cfg.grad_clip)
        return {"total": float(total.detach()), **{k: float(v.detach()) for k, v in losses.items()}}

    return step, {f"dynamics_{k}": m for k, m in models.items()}, {"adam": opt}


def _posterior(wm: WorldModel, batch: dict[str, Tensor], sample: bool = True):
    with torch.no_grad():
        wm.eval()
        post = wm.observe(batch, sample=sample).posterior
    return post


def actor_nll(wm: WorldModel, feature: Tensor, goal: Tensor, action: Tensor) -> Tensor:
    """Mean negative log-likelihood of demonstrated actions (clamped inside the tanh's
    range) under the goal-conditioned actor: feature (..., F), goal (N, G), action (..., A)."""
    dist = wm.actor(feature, goal)
    target = action.clamp(-BC_ACTION_LIMIT, BC_ACTION_LIMIT)
    return -dist.log_prob(target).mean()


def behaviour_cloning_loss(wm: WorldModel, batch: dict[str, Tensor], sample: bool = True) -> Tensor:
    """Negative log-likelihood of the demonstrated actions under the goal-conditioned actor,
    on the features of each window filtered from its own first step (a sampled posterior
    unless `sample` is False)."""
    feat = wm.feature(_posterior(wm, batch, sample))
    return actor_nll(wm, feat, batch["goal"][:, 0], batch["action"])


def actor_critic_step(
    wm: WorldModel,
    loader: SequenceLoader,
    demos: SequenceLoader,
    cfg: TrainConfig,
    stage: ActorCriticStage,
):
    """Stage 6: behaviour cloning for `bc_steps`, then Dreamer actor-critic + BC term."""
    actor_params = list(wm.actor.parameters())
    critic_params = list(wm.critic.parameters())
    actor_opt = _adam(actor_params, stage.lr)
    critic_opt = _adam(critic_params, stage.critic_lr)

    def step(i: int) -> dict[str, float]:
        wm.train()
        bc = behaviour_cloning_loss(wm, demos.sample())
        if i < stage.bc_steps:
            clip_step(bc, actor_opt, actor_params, cfg.grad_clip)
            return {"bc_nll": float(bc)}
        batch = loader.sample()
        start = flatten_time(_posterior(wm, batch))
        goal = batch["goal"].flatten(0, 1)
        actor_loss, critic_loss, terms = wm.actor_critic_loss(start, goal)
        clip_step(actor_loss + stage.bc_weight * bc, actor_opt, actor_params, cfg.grad_clip)
        clip_step(critic_loss, critic_opt, critic_params, cfg.grad_clip)
        wm.update_target()
        return {"bc_nll": float(bc), **{k: float(v) for k, v in terms.items()}}

    modules = {
        "actor": wm.actor,
        "critic": wm.critic,
        "target_critic": wm.target_critic,
        "return_norm": wm.return_norm,
    }
    return step, modules, {"actor": actor_opt, "critic": critic_opt}
