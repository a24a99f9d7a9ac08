"""Dreamer-style actor-critic in imagination, as pure loss functions.

From posterior start states the actor imagines `horizon` steps through the RSSM prior.
Lambda-returns bootstrap from the target critic. The actor maximises the returns by
backpropagating through the imagined dynamics (continuous actions), with DreamerV3's
return normalisation (scale = EMA of the 5-95 percentile range, never below 1) and an
entropy bonus; the critic regresses the returns. World-model parameters are frozen
during the actor's pass (gradients flow through their activations, not into them).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, NamedTuple

import torch
from torch import Tensor, nn

from vla_wm_ros.models.rssm import RSSMState, stack_states

if TYPE_CHECKING:
    from vla_wm_ros.models.world_model import WorldModel


class Imagination(NamedTuple):
    """An imagined batch of trajectories; index 0 is the start state."""

    states: RSSMState  # (N, H+1, ...)
    features: Tensor  # (N, H+1, F)
    actions: Tensor  # (N, H, A): action taken in state t
    entropies: Tensor  # (N, H): policy entropy estimate in state t
    rewards: Tensor  # (N, H): reward of arriving in state t+1
    continues: Tensor  # (N, H): probability that state t+1 is not terminal


def lambda_returns(
    rewards: Tensor, values: Tensor, continues: Tensor, gamma: float, lam: float
) -> Tensor:
    """TD(lambda) returns R_0..R_{H-1} of an imagined trajectory.

    rewards (N, H): reward of arriving in state t+1; continues (N, H): continue probability
    of state t+1; values (N, H+1): value of states 0..H.
    R_t = r_t + gamma c_t ((1 - lam) v_{t+1} + lam R_{t+1}), with R_H = v_H.
    """
    horizon = rewards.shape[1]
    discounts = gamma * continues
    next_return = values[:, horizon]
    returns = []
    for t in reversed(range(horizon)):
        next_return = rewards[:, t] + discounts[:, t] * (
            (1 - lam) * values[:, t + 1] + lam * next_return
        )
        returns.append(next_return)
    return torch.stack(returns[::-1], dim=1)


class ReturnNormalizer(nn.Module):
    """DreamerV3 return scale: EMA of the percentile range of returns, floored at 1."""

    def __init__(self, decay: float, low: float, high: float):
        super().__init__()
        self.decay = decay
        self.quantiles = (low / 100.0, high / 100.0)
        self.register_buffer("range", torch.zeros(()))
        self.register_buffer("initialised", torch.zeros((), dtype=torch.bool))

    @torch.no_grad()
    def update(self, returns: Tensor) -> Tensor:
        """Fold a batch of returns into the EMA; returns the scale max(1, range)."""
        flat = returns.detach().flatten().float()
        q = torch.quantile(flat, flat.new_tensor(self.quantiles))
        batch_range = q[1] - q[0]
        if bool(self.initialised):
            self.range.mul_(self.decay).add_((1 - self.decay) * batch_range)
        else:
            self.range.copy_(batch_range)
            self.initialised.fill_(True)
        return self.scale()

    def scale(self) -> Tensor:
        return self.range.clamp(min=1.0)


@contextmanager
def frozen(*modules: nn.Module) -> Iterator[None]:
    """Parameters of `modules` stop collecting gradients inside the block; flags restored."""
    params = [p for m in modules for p in m.parameters()]
    flags = [p.requires_grad for p in params]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(params, flags, strict=True):
            p.requires_grad_(flag)


def imagine_rollout(
    world_model: WorldModel, start: RSSMState, goal: Tensor, horizon: int
) -> Imagination:
    """Roll the actor through the RSSM prior for `horizon` steps from (N, ...) start states.

    goal is (G,) for all rows or (N, G). Actions are reparameterised samples, so gradients
    flow from rewards and values back through the dynamics into the actor.
    """
    actor_term = world_model.actor.goal_term(goal)
    reward_term = world_model.reward_head.goal_term(goal)
    states, actions, entropies = [start], [], []
    state = start
    for _ in range(horizon):
        dist = world_model.actor(world_model.rssm.feature(state), goal_term=actor_term)
        action = dist.rsample()
        entropies.append(dist.entropy(action))
        actions.append(action)
        state = world_model.rssm.img_step(state, action)[0]
        states.append(state)
    trajectory = stack_states(states)
    features = world_model.rssm.feature(trajectory)
    return Imagination(
        states=trajectory,
        features=features,
        actions=torch.stack(actions, dim=1),
        entropies=torch.stack(entropies, dim=1),
        rewards=world_model.reward_head(features[:, 1:], goal_term=reward_term),
        continues=torch.sigmoid(world_model.continue_head(features[:, 1:])),
    )


def actor_critic_loss(
    world_model: WorldModel, start: RSSMState, goal: Tensor
) -> tuple[Tensor, Tensor, dict[str, Tensor]]:
    """(actor loss, critic loss, named detached terms) from (N, ...) posterior start states.

    Updates world_model.return_norm's EMA (its only side effect). Start states are
    detached here; goal is (G,) or (N, G).
    """
    cfg = world_model.cfg.actor_critic
    start = RSSMState(start.deter.detach(), start.stoch.detach())
    wm_parts = (
        world_model.rssm,
        world_model.reward_head,
        world_model.continue_head,
        world_model.target_critic,
    )
    with frozen(*wm_parts):
        imag = imagine_rollout(world_model, start, goal, cfg.horizon)
        target_term = world_model.target_critic.goal_term(goal)
        values = world_model.target_critic(imag.features, goal_term=target_term)
    returns = lambda_returns(imag.rewards, values, imag.continues, cfg.gamma, cfg.lambda_)
    # Weight of step t: probability the episode is still running there (discounted).
    discount = cfg.gamma * imag.continues.detach()
    weights = torch.cumprod(torch.cat([torch.ones_like(discount[:, :1]), discount[:, :-1]], 1), 1)
    scale = world_model.return_norm.update(returns)
    advantage = (returns - values[:, :-1].detach()) / scale
    actor_loss = -(weights * (advantage + cfg.entropy_scale * imag.entropies)).mean()
    prediction = world_model.critic(imag.features[:, :-1].detach(), goal)
    critic_loss = (weights * 0.5 * (prediction - returns.detach()).pow(2)).mean()
    terms = {
        "actor": actor_loss.detach(),
        "critic": critic_loss.detach(),
        "return_mean": returns.detach().mean(),
        "return_scale": scale.detach(),
        "entropy": imag.entropies.detach().mean(),
        "imagined_reward": imag.rewards.detach().mean(),
        "action_abs": imag.actions.detach().abs().mean(),
    }
    return actor_loss, critic_loss, terms
