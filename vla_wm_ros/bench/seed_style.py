"""The seed document's Stage 4 planners as written, kept as the speed baseline.

`SeedStyleRSSM.imagine_step` is the seed's: a per-step `nn.GRU` call on a length-1
sequence, the prior MLP, a Gaussian sample; `SeedStyleCEM` / `SeedStyleMPPI` are its
CEMPlanner / MPPIPlanner loops (one imagine_step and one reward call per horizon step,
fresh tensors every iteration, no warm start for CEM). Two changes, both needed for the
code to run at all, neither making it faster: the state carries every GRU layer's hidden
vector flattened to (B, layers * D), reshaped to nn.GRU's (layers, B, D) on each call
(the seed passes `state.unsqueeze(0)`, which nn.GRU rejects for its own num_layers=2);
and action_dim comes from the caller instead of the literal 7.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def _mlp(in_dim: int, hidden: int, layers: int, out_dim: int | None) -> nn.Sequential:
    """Linear + ELU blocks (the seed's nets), then an optional output Linear."""
    modules: list[nn.Module] = []
    width = in_dim
    for _ in range(layers):
        modules += [nn.Linear(width, hidden), nn.ELU()]
        width = hidden
    if out_dim is not None:
        modules.append(nn.Linear(width, out_dim))
    return nn.Sequential(*modules)


class SeedStyleRSSM(nn.Module):
    """The seed's RSSM imagination path (Gaussian latent) plus its reward predictor."""

    def __init__(
        self,
        action_dim: int,
        state_dim: int = 256,
        stochastic_dim: int = 32,
        hidden_dim: int = 512,
        num_layers: int = 2,
        prior_layers: int = 2,
        reward_hidden: int = 256,
        reward_layers: int = 2,
    ):
        super().__init__()
        self.state_dim, self.num_layers = state_dim, num_layers
        self.stochastic_dim = stochastic_dim
        self.gru = nn.GRU(stochastic_dim + action_dim, state_dim, num_layers, batch_first=True)
        self.prior_net = _mlp(state_dim * num_layers, hidden_dim, prior_layers, None)
        self.prior_mean = nn.Linear(hidden_dim, stochastic_dim)
        self.prior_std = nn.Linear(hidden_dim, stochastic_dim)
        feature_dim = state_dim * num_layers + stochastic_dim
        self.reward_predictor = _mlp(feature_dim, reward_hidden, reward_layers, 1)

    def initial_state(self, batch_size: int) -> tuple[Tensor, Tensor]:
        return (
            torch.zeros(batch_size, self.state_dim * self.num_layers),
            torch.zeros(batch_size, self.stochastic_dim),
        )

    def imagine_step(
        self, state: Tensor, stochastic: Tensor, action: Tensor
    ) -> tuple[Tensor, Tensor]:
        batch = state.shape[0]
        hidden = state.reshape(batch, self.num_layers, self.state_dim).transpose(0, 1)
        gru_input = torch.cat([stochastic, action], dim=-1).unsqueeze(1)
        _, next_hidden = self.gru(gru_input, hidden.contiguous())
        next_state = next_hidden.transpose(0, 1).reshape(batch, -1)
        prior_feat = self.prior_net(next_state)
        prior_mean = self.prior_mean(prior_feat)
        prior_std = F.softplus(self.prior_std(prior_feat)) + 0.1
        next_stochastic = prior_mean + torch.randn_like(prior_std) * prior_std
        return next_state, next_stochastic


def _evaluate_sequences(
    model: SeedStyleRSSM, state: Tensor, stochastic: Tensor, actions: Tensor, horizon: int
) -> Tensor:
    """The seed's `_evaluate_sequences`: discounted predicted reward of each sequence."""
    total_rewards = torch.zeros(state.shape[0])
    current_state, current_stochastic = state, stochastic
    gamma = 0.99
    for t in range(horizon):
        next_state, next_stochastic = model.imagine_step(
            current_state, current_stochastic, actions[:, t]
        )
        full_state = torch.cat([next_state, next_stochastic], dim=-1)
        reward = model.reward_predictor(full_state).squeeze(-1)
        total_rewards += (gamma**t) * reward
        current_state, current_stochastic = next_state, next_stochastic
    return total_rewards


@dataclass(eq=False)
class _SeedStylePlanner:
    """What the seed's two planners hold alike, and their one way to score samples."""

    model: SeedStyleRSSM
    action_dim: int
    planning_horizon: int = 15
    num_samples: int = 1000

    def _returns(self, state: Tensor, stochastic: Tensor, action_samples: Tensor) -> Tensor:
        return _evaluate_sequences(
            self.model,
            state.expand(self.num_samples, -1),
            stochastic.expand(self.num_samples, -1),
            action_samples,
            self.planning_horizon,
        )


@dataclass(eq=False)
class SeedStyleCEM(_SeedStylePlanner):
    """The seed's CEMPlanner.plan: fresh N(0, 1) each call, top-k refit, mean[0]."""

    top_k: int = 100
    num_iterations: int = 5

    def plan(self, initial_state: Tensor, initial_stochastic: Tensor) -> Tensor:
        action_mean = torch.zeros(self.planning_horizon, self.action_dim)
        action_std = torch.ones(self.planning_horizon, self.action_dim)
        for _ in range(self.num_iterations):
            noise = torch.randn(self.num_samples, self.planning_horizon, self.action_dim)
            action_samples = action_mean.unsqueeze(0) + noise * action_std.unsqueeze(0)
            action_samples = torch.clamp(action_samples, -1.0, 1.0)
            rewards = self._returns(initial_state, initial_stochastic, action_samples)
            top_indices = torch.topk(rewards, self.top_k).indices
            top_actions = action_samples[top_indices]
            action_mean = top_actions.mean(dim=0)
            action_std = top_actions.std(dim=0) + 1e-6
        return action_mean[0]


@dataclass(eq=False)
class SeedStyleMPPI(_SeedStylePlanner):
    """The seed's MPPIPlanner.plan: one weighted pass around the shifted previous plan."""

    temperature: float = 0.1
    noise_std: float = 0.5
    prev_actions: Tensor | None = field(default=None, init=False)

    def plan(self, initial_state: Tensor, initial_stochastic: Tensor) -> Tensor:
        if self.prev_actions is None:
            mean_actions = torch.zeros(self.planning_horizon, self.action_dim)
        else:
            mean_actions = torch.cat([self.prev_actions[1:], self.prev_actions[-1:]], dim=0)
        noise = (
            torch.randn(self.num_samples, self.planning_horizon, self.action_dim) * self.noise_std
        )
        action_samples = torch.clamp(mean_actions.unsqueeze(0) + noise, -1.0, 1.0)
        costs = -self._returns(initial_state, initial_stochastic, action_samples)
        weights = F.softmax(-costs / self.temperature, dim=0)
        optimal_actions = (weights.unsqueeze(-1).unsqueeze(-1) * action_samples).sum(dim=0)
        self.prev_actions = optimal_actions
        return optimal_actions[0]
