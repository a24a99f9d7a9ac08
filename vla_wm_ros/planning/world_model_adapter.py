"""The trained WorldModel seen through the planning protocol (planning/model.py).

Planning state = the RSSM feature (deter | stoch). Without autograd (sampling planners)
steps run through the core's `ImagineKernel`, which writes each next feature straight
into the planner's trajectory tensor; with autograd (gradient MPC) through
`RSSM.imagine_step`. Goal-conditioned heads (reward, critic, actor) split their first
layer into a feature part and a goal part; `goal_context` computes the goal parts once
per plan, so every per-sample call is a feature-only MLP. Imagination uses the prior's
mean (mode) by default: deterministic latent rollouts give the planner a noise-free score
of each action sequence (as TD-MPC2 plans); `sample_latent=True` draws from the prior.

With an offline value in the checkpoint (`vla-wm train-value`), `value` is its V and
`q_spread` the std of its Q heads (the planner's uncertainty penalty); without one, `value`
is the imagination critic. With `units` (a `deploy.DeployedModel` on a backend other than
eager) the no-grad calls (imagine, reward, value, q_spread, policy) run the backend's
compiled units instead.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from vla_wm_ros.models.distributions import TanhNormal
from vla_wm_ros.models.imagine_kernel import ImagineKernel
from vla_wm_ros.models.rssm import RSSMState
from vla_wm_ros.models.world_model import WorldModel


class GoalTerms(NamedTuple):
    """The goal's share of the first layer of each goal-conditioned head: (H,) each; the Q
    heads' (E * H,) flattened (None without an offline value)."""

    reward: Tensor
    value: Tensor
    actor: Tensor
    q: Tensor | None = None


class WorldModelPlanningModel:
    """PlanningModel over `world_model` (put in eval mode; its weights are never changed)."""

    def __init__(self, world_model: WorldModel, sample_latent: bool = False, units=None):
        world_model.eval()
        if units is not None and sample_latent:
            raise ValueError("backend units imagine the prior's mode; sample_latent needs eager")
        self.world_model = world_model
        # The weights as trained (fp32): `actor_action` runs on them. A reduced-precision
        # subclass plans over a copy and points this at the original.
        self.full_precision = world_model
        self.units = None if units is None or units.backend == "eager" else units
        self.rssm = world_model.rssm
        self.kernel = ImagineKernel(world_model)
        self.sample_latent = sample_latent
        param = next(world_model.parameters())
        self.dtype = param.dtype  # of features and goal terms (the model's weights)
        self.action_dim = world_model.action_dim
        self.action_low = -torch.ones(self.action_dim, device=param.device, dtype=param.dtype)
        self.action_high = torch.ones(self.action_dim, device=param.device, dtype=param.dtype)
        self.has_disagreement = world_model.ensemble is not None
        self.offline_value = world_model.offline_value
        self.has_q_ensemble = self.offline_value is not None
        self.goal_dim = world_model.cfg.goal_dim

    def feature(self, belief: RSSMState | Tensor) -> Tensor:
        """(1, D+S) from an RSSMState or a feature; refuses the wrong width."""
        feature = self.rssm.feature(belief) if isinstance(belief, RSSMState) else belief
        if feature.shape[-1] != self.rssm.feature_dim:
            raise ValueError(
                f"belief: expected an RSSMState or a feature of width {self.rssm.feature_dim} "
                f"(deter {self.rssm.deter_size} + stoch {self.rssm.stoch_size}), "
                f"got shape {tuple(feature.shape)}"
            )
        return feature.to(self.action_low.device, self.dtype)

    def goal_context(self, goal: Tensor) -> GoalTerms:
        goal = torch.as_tensor(goal, device=self.action_low.device, dtype=self.dtype)
        if goal.shape != (self.goal_dim,):
            raise ValueError(
                f"goal: expected the instruction embedding ({self.goal_dim},), "
                f"got {tuple(goal.shape)}"
            )
        wm, offline = self.world_model, self.offline_value
        if offline is None:
            return GoalTerms(
                wm.reward_head.goal_term(goal), wm.critic.goal_term(goal), wm.actor.goal_term(goal)
            )
        return GoalTerms(
            wm.reward_head.goal_term(goal),
            offline.v.goal_term(goal),
            wm.actor.goal_term(goal),
            offline.q.goal_term(goal).reshape(-1),
        )

    def _unit(self, name: str):
        """The backend's unit `name` when one serves this call (no autograd), else None."""
        return None if self.units is None or torch.is_grad_enabled() else self.units[name]

    def imagine_step(self, feature: Tensor, action: Tensor, out: Tensor | None = None) -> Tensor:
        if (unit := self._unit("imagine")) is not None:
            nxt = unit(feature, action)
            return nxt if out is None else out.copy_(nxt)
        if not torch.is_grad_enabled():
            return self.kernel.step(feature, action, out=out, sample=self.sample_latent)
        d = self.rssm.deter_size
        state = RSSMState(feature[:, :d], feature[:, d:])
        nxt = self.rssm.feature(self.rssm.imagine_step(state, action, sample=self.sample_latent))
        return nxt if out is None else out.copy_(nxt)

    def reward(self, feature: Tensor, context: GoalTerms) -> Tensor:
        if (unit := self._unit("reward")) is not None:
            return unit(feature, context.reward)
        if not torch.is_grad_enabled():
            return self.kernel.reward(feature, context.reward)
        return self.world_model.reward_head(feature, goal_term=context.reward)

    def value(self, feature: Tensor, context: GoalTerms) -> Tensor:
        """The offline V when the checkpoint has one, else the imagination critic."""
        if (unit := self._unit("value")) is not None:
            return unit(feature, context.value)
        if self.offline_value is not None:
            return self.offline_value.value(feature, goal_term=context.value)
        return self.world_model.critic(feature, goal_term=context.value)

    def q_spread(self, feature: Tensor, action: Tensor, context: GoalTerms) -> Tensor:
        """(N,) std over the offline Q heads of Q(feature, action); needs has_q_ensemble."""
        if self.offline_value is None or context.q is None:
            raise RuntimeError("q_spread: the checkpoint has no offline value (vla-wm train-value)")
        if (unit := self._unit("q_spread")) is not None:
            return unit(feature, action, context.q)
        terms = context.q.view(len(self.offline_value.q.heads), -1)
        return self.offline_value.spread(feature, action, terms)

    def policy(self, feature: Tensor, context: GoalTerms, sample: bool) -> Tensor:
        if (unit := self._unit("actor")) is not None:
            dist = TanhNormal(*unit(feature, context.actor))
        else:
            dist = self.world_model.actor(feature, goal_term=context.actor)
        return dist.sample() if sample else dist.mode

    def actor_action(self, belief: RSSMState | Tensor, goal: Tensor) -> Tensor:
        """(1, A) the actor's mode at `belief` in fp32 eager, the call actor mode makes
        (control/control_policy.py ActorPolicy), clipped to the action bounds."""
        wm = self.full_precision
        feature = wm.rssm.feature(belief) if isinstance(belief, RSSMState) else belief
        param = next(wm.actor.parameters())
        goal = torch.as_tensor(goal, device=param.device, dtype=param.dtype).reshape(1, -1)
        action = wm.actor(feature.to(param.device, param.dtype), goal).mode
        return torch.minimum(torch.maximum(action, self.action_low), self.action_high).float()

    def disagreement(self, feature: Tensor, action: Tensor) -> Tensor:
        return self.world_model.disagreement(feature, action)
