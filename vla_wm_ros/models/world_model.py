"""WorldModel: one compact module owning every learned part, with explicit loss terms.

Parts: observation encoder, RSSM, observation decoder, goal-conditioned reward head,
continue head (logits), goal-conditioned actor and critic (+ target critic), return
normaliser, and the optional stage-3 latent dynamics model, temporal history encoder,
offline value (Q ensemble + V fitted on recorded transitions, `vla-wm train-value`) and
training-only environment-state heads (on the latent, loss.state > 0; on each frame's
image features, loss.view_state > 0).
Loss functions are pure apart from the return normaliser's EMA; training loops live in
`training/`.

Batch format (every tensor (B, T, ...)): image uint8 (B,T,3,H,W) [absent for
proprio-only models], proprio (B,T,P), prev_action (B,T,A) (a_{t-1}, zero at episode
start), reward (B,T) (reward of arriving at t), is_first (B,T), is_terminal (B,T),
goal (B,G) (instruction embedding; (B,T,G) also accepted), environment_state (B,T,S)
(simulator data, read when loss.state or loss.view_state > 0).
"""

from __future__ import annotations

import copy
import dataclasses
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vla_wm_ros.config.model import WorldModelConfig
from vla_wm_ros.models.actor_critic import ReturnNormalizer, actor_critic_loss
from vla_wm_ros.models.decoder import ObservationDecoder
from vla_wm_ros.models.dynamics.ensemble import EnsembleDynamics
from vla_wm_ros.models.dynamics.factory import build_dynamics
from vla_wm_ros.models.encoder import ObservationEncoder
from vla_wm_ros.models.flops import dense_flops
from vla_wm_ros.models.heads import Actor, ContinueHead, GoalHead, StateHead
from vla_wm_ros.models.kl import kl_balance
from vla_wm_ros.models.offline_value import OfflineValue
from vla_wm_ros.models.rssm import RSSM, ObserveResult, RSSMState
from vla_wm_ros.models.temporal.history import build_temporal_encoder

# The training-only state heads (loss.state, loss.view_state), by attribute name.
STATE_HEADS = ("state_head", "view_state_head")


class WorldModelLoss(NamedTuple):
    total: Tensor  # scalar to backpropagate
    terms: dict[str, Tensor]  # named detached scalars (each unscaled loss term)
    posterior: RSSMState  # (B, T, ...) filtered states: start states for imagination


class WorldModel(nn.Module):
    def __init__(
        self,
        cfg: WorldModelConfig,
        action_dim: int | None = None,
        proprio_dim: int | None = None,
        goal_dim: int | None = None,
    ):
        super().__init__()
        cfg = dataclasses.replace(
            cfg,
            action_dim=cfg.action_dim if action_dim is None else action_dim,
            proprio_dim=cfg.proprio_dim if proprio_dim is None else proprio_dim,
            goal_dim=cfg.goal_dim if goal_dim is None else goal_dim,
        )
        cfg.validate()
        self.cfg = cfg
        heads, ac = cfg.heads, cfg.actor_critic
        self.encoder = ObservationEncoder(cfg.encoder, cfg.proprio_dim)
        self.rssm = RSSM(cfg.rssm, cfg.action_dim, self.encoder.out_dim)
        feat = self.rssm.feature_dim
        self.decoder = ObservationDecoder(feat, cfg.encoder, heads, cfg.proprio_dim)
        self.reward_head = GoalHead(
            feat, cfg.goal_dim, heads.hidden, heads.layers, heads.act, heads.norm
        )
        self.continue_head = ContinueHead(feat, heads.hidden, heads.layers, heads.act, heads.norm)
        self.actor = Actor(
            feat,
            cfg.goal_dim,
            cfg.action_dim,
            ac.actor_hidden or ac.hidden,
            ac.actor_layers or ac.layers,
            ac.min_std,
            ac.max_std,
            ac.act,
            ac.norm,
        )
        self.critic = GoalHead(feat, cfg.goal_dim, ac.hidden, ac.layers, ac.act, ac.norm)
        self.target_critic = copy.deepcopy(self.critic).requires_grad_(False)
        self.return_norm = ReturnNormalizer(
            ac.return_norm_decay, ac.return_norm_low, ac.return_norm_high
        )
        self.dynamics = build_dynamics(cfg.dynamics, feat, cfg.action_dim)
        self.temporal = build_temporal_encoder(cfg.temporal, self.encoder.out_dim, cfg.action_dim)
        self.offline_value = (
            OfflineValue(feat, cfg.action_dim, cfg.goal_dim, cfg.value) if cfg.value.heads else None
        )
        size = cfg.environment_state_dim
        self.state_head = (
            StateHead(feat, size, heads.hidden, heads.layers, heads.act, heads.norm)
            if cfg.loss.state
            else None
        )
        self.view_state_head = (
            StateHead(
                self.encoder.image.out_dim, size, heads.hidden, heads.layers, heads.act, heads.norm
            )
            if cfg.loss.view_state and self.encoder.image is not None
            else None
        )

    def state_heads(self) -> dict[str, nn.Module]:
        """The training-only state heads this model has, by name (none at run time)."""
        return {n: getattr(self, n) for n in STATE_HEADS if getattr(self, n) is not None}

    # --- the calls planners and the state estimator make -------------------------------

    @property
    def action_dim(self) -> int:
        return self.cfg.action_dim

    def encode(self, image: Tensor | None, proprio: Tensor | None) -> Tensor:
        """(..., 3, H, W) uint8 image and (..., P) proprio -> (..., E) embedding."""
        return self.encoder(image, proprio)

    def feature(self, state: RSSMState) -> Tensor:
        return self.rssm.feature(state)

    def reward(self, feature: Tensor, goal: Tensor | None = None, goal_term: Tensor | None = None):
        """Predicted reward of arriving in the state with this feature: (...,)."""
        return self.reward_head(feature, goal, goal_term)

    def cont(self, feature: Tensor) -> Tensor:
        """Continue logit (not terminal): (...,)."""
        return self.continue_head(feature)

    @property
    def ensemble(self) -> EnsembleDynamics | None:
        return self.dynamics if isinstance(self.dynamics, EnsembleDynamics) else None

    def disagreement(self, feature: Tensor, action: Tensor) -> Tensor:
        """(N,) ensemble disagreement about the next feature; needs dynamics.kind 'ensemble'."""
        if self.ensemble is None:
            raise RuntimeError(
                f"disagreement: dynamics.kind is {self.cfg.dynamics.kind!r}, not 'ensemble'"
            )
        return self.ensemble.disagreement(feature, action)

    @torch.no_grad()
    def update_target(self, tau: float | None = None) -> None:
        """Soft update: target <- tau * critic + (1 - tau) * target."""
        tau = self.cfg.actor_critic.target_tau if tau is None else tau
        for target, source in zip(
            self.target_critic.parameters(), self.critic.parameters(), strict=True
        ):
            target.lerp_(source, tau)

    # --- losses ------------------------------------------------------------------------

    def observe(self, batch: dict[str, Tensor], sample: bool = True) -> ObserveResult:
        """Filter a batch's sequences (posterior and prior for every step)."""
        return self._observe(batch, sample)[0]

    def _observe(
        self, batch: dict[str, Tensor], sample: bool
    ) -> tuple[ObserveResult, Tensor | None]:
        """observe, plus each frame's image features (for the view-state head)."""
        _check_batch(batch, self.cfg, self.encoder.uses_image)
        embeds, seen = self.encoder.with_image_features(batch.get("image"), batch.get("proprio"))
        obs = self.rssm.observe(embeds, batch["prev_action"], batch["is_first"], sample=sample)
        return obs, seen

    def world_model_loss(self, batch: dict[str, Tensor]) -> WorldModelLoss:
        """Reconstruction (image, proprio) + balanced free-bits KL + reward + continue."""
        w = self.cfg.loss
        obs, seen = self._observe(batch, sample=True)
        feat = self.rssm.feature(obs.posterior)
        decoded = self.decoder(feat)
        terms: dict[str, Tensor] = {}
        total = feat.new_zeros(())
        if "image" in decoded:
            target = ObservationDecoder.image_target(batch["image"])
            terms["image"] = (decoded["image"] - target).pow(2).sum((-3, -2, -1)).mean()
            total = total + w.image * terms["image"]
        if "proprio" in decoded:
            terms["proprio"] = (decoded["proprio"] - batch["proprio"].float()).pow(2).sum(-1).mean()
            total = total + w.proprio * terms["proprio"]
        goal = batch["goal"]
        # The first step of an episode has no reward of arriving; it does not train the head.
        has_reward = (~batch["is_first"].bool()).float()
        reward_error = (self.reward_head(feat, goal) - batch["reward"].float()).pow(2)
        terms["reward"] = (reward_error * has_reward).sum() / has_reward.sum().clamp(min=1.0)
        cont_target = 1.0 - batch["is_terminal"].float()
        terms["cont"] = F.binary_cross_entropy_with_logits(self.continue_head(feat), cont_target)
        kl, kl_terms = kl_balance(
            self.rssm.latent, obs.post_stats, obs.prior_stats, w.kl_dyn, w.kl_rep, w.free_nats
        )
        terms.update(kl_terms)
        total = total + w.reward * terms["reward"] + w.cont * terms["cont"] + kl
        if self.state_head is not None:
            terms["state"] = self.state_head.loss(feat, batch["environment_state"])
            total = total + w.state * terms["state"]
        if self.view_state_head is not None:
            terms["view_state"] = self.view_state_head.loss(seen, batch["environment_state"])
            total = total + w.view_state * terms["view_state"]
        terms = {k: v.detach() for k, v in terms.items()}
        terms["total"] = total.detach()
        return WorldModelLoss(total, terms, obs.posterior)

    def actor_critic_loss(self, start: RSSMState, goal: Tensor) -> tuple[Tensor, Tensor, dict]:
        """See `actor_critic.actor_critic_loss`: (actor loss, critic loss, terms)."""
        return actor_critic_loss(self, start, goal)

    # --- cost accounting ---------------------------------------------------------------

    def imagine_flops(self) -> float:
        """Dense-layer FLOPs of one planner transition: imagine_step + reward (goal term cached)."""
        return dense_flops(self.rssm.imagine_linears()) + dense_flops(
            self.reward_head.feature_linears()
        )


def _check_batch(batch: dict[str, Tensor], cfg: WorldModelConfig, uses_image: bool) -> None:
    """Refuse a batch with a missing key or a shape that disagrees with the config."""
    required = {
        "prev_action": (cfg.action_dim,),
        "reward": (),
        "is_first": (),
        "is_terminal": (),
    }
    if uses_image:
        required["image"] = (3, cfg.encoder.image_size, cfg.encoder.image_size)
    if cfg.proprio_dim:
        required["proprio"] = (cfg.proprio_dim,)
    if cfg.loss.state or cfg.loss.view_state:
        required["environment_state"] = (cfg.environment_state_dim,)
    if "goal" not in batch:
        raise KeyError("batch: missing key 'goal' (instruction embedding, (B, G))")
    lead = None
    for key, tail in required.items():
        if key not in batch:
            raise KeyError(
                f"batch: missing key {key!r} (expected (B, T{''.join(f', {d}' for d in tail)}))"
            )
        shape = tuple(batch[key].shape)
        if len(shape) != 2 + len(tail) or shape[2:] != tail:
            raise ValueError(f"batch[{key!r}]: expected (B, T, *{tail}), got {shape}")
        lead = shape[:2] if lead is None else lead
        if shape[:2] != lead:
            raise ValueError(f"batch[{key!r}]: batch/time {shape[:2]} differs from {lead}")
    goal_shape = tuple(batch["goal"].shape)
    if goal_shape[-1] != cfg.goal_dim:
        raise ValueError(
            f"batch['goal']: last dim must be goal_dim {cfg.goal_dim}, got {goal_shape}"
        )
