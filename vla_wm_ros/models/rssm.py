"""Recurrent state-space model (PlaNet / Dreamer), filtering and imagination.

Time order: h_t = f(h_{t-1}, z_{t-1}, a_{t-1}); prior p(z_t | h_t); posterior
q(z_t | h_t, e_t). `imagine_step` is exactly the prior path of `obs_step`, so what the
planner imagines is what the filter would predict before seeing the next frame.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

from vla_wm_ros.config.model import RSSMConfig
from vla_wm_ros.models.gru import StackedGRU
from vla_wm_ros.models.latent import DiscreteLatent, GaussianLatent, Latent, Stats
from vla_wm_ros.models.mlp import MLP, ConditionedMLP, hidden_block


class RSSMState(NamedTuple):
    deter: Tensor  # (B, D) h_t: every GRU layer's hidden vector, concatenated
    stoch: Tensor  # (B, S) z_t, flattened (categorical: categories * classes)


class ObserveResult(NamedTuple):
    """What `observe` returns: every tensor is (B, T, ...)."""

    posterior: RSSMState
    prior: RSSMState
    post_stats: Stats
    prior_stats: Stats


def stack_states(states: list[RSSMState], dim: int = 1) -> RSSMState:
    return RSSMState(*(torch.stack(parts, dim) for parts in zip(*states, strict=True)))


def stack_stats(stats: list[Stats], dim: int = 1) -> Stats:
    return {k: torch.stack([s[k] for s in stats], dim) for k in stats[0]}


def state_at(state: RSSMState, t: int) -> RSSMState:
    """Step `t` of a (B, T, ...) state sequence, as a (B, ...) state."""
    return RSSMState(state.deter[:, t], state.stoch[:, t])


def flatten_time(state: RSSMState) -> RSSMState:
    """(B, T, ...) -> (B*T, ...): every step becomes a start state (imagination)."""
    return RSSMState(state.deter.flatten(0, 1), state.stoch.flatten(0, 1))


class RSSM(nn.Module):
    def __init__(self, cfg: RSSMConfig, action_dim: int, embed_dim: int):
        super().__init__()
        self.cfg = cfg
        self.action_dim = action_dim
        self.latent: Latent = (
            GaussianLatent(cfg.stoch, cfg.min_std, cfg.max_std)
            if cfg.latent == "gaussian"
            else DiscreteLatent(cfg.categories, cfg.classes, cfg.unimix)
        )
        self.img_in = nn.Sequential(
            nn.Linear(self.latent.size + action_dim, cfg.hidden),
            *hidden_block(cfg.hidden, cfg.act, cfg.norm),
        )
        self.gru = StackedGRU(cfg.hidden, cfg.deter, cfg.gru_layers, cfg.norm)
        self.prior = MLP(
            self.gru.state_size,
            cfg.hidden,
            cfg.prior_layers,
            self.latent.stats_dim,
            cfg.act,
            cfg.norm,
        )
        self.posterior = ConditionedMLP(
            self.gru.state_size,
            embed_dim,
            cfg.hidden,
            cfg.posterior_layers,
            self.latent.stats_dim,
            cfg.act,
            cfg.norm,
        )

    @property
    def deter_size(self) -> int:
        return self.gru.state_size

    @property
    def stoch_size(self) -> int:
        return self.latent.size

    @property
    def feature_dim(self) -> int:
        return self.deter_size + self.stoch_size

    def initial(self, batch_size: int, device: torch.device | str = "cpu") -> RSSMState:
        """The state before the first observation of an episode (zeros)."""
        return RSSMState(
            torch.zeros(batch_size, self.deter_size, device=device),
            torch.zeros(batch_size, self.stoch_size, device=device),
        )

    @staticmethod
    def feature(state: RSSMState) -> Tensor:
        """(..., D + S): what every head reads."""
        return torch.cat([state.deter, state.stoch], dim=-1)

    def img_step(
        self,
        prev: RSSMState,
        prev_action: Tensor,
        sample: bool = True,
        noise: Tensor | None = None,
    ) -> tuple[RSSMState, Stats]:
        """Prior step: (h_{t-1}, z_{t-1}), a_{t-1} -> (h_t, z_t ~ p(z_t | h_t)) and its stats."""
        x = self.img_in(torch.cat([prev.stoch, prev_action], dim=-1))
        deter = self.gru(x, prev.deter)
        stats = self.latent.stats(self.prior(deter))
        stoch = self.latent.sample(stats, noise) if sample else self.latent.mode(stats)
        return RSSMState(deter, stoch), stats

    def imagine_step(
        self,
        state: RSSMState,
        action: Tensor,
        sample: bool = True,
        noise: Tensor | None = None,
    ) -> RSSMState:
        """One imagined transition for a whole batch (the planner's inner loop)."""
        return self.img_step(state, action, sample, noise)[0]

    def obs_step(
        self,
        prev: RSSMState,
        prev_action: Tensor,
        embed: Tensor,
        is_first: Tensor | None = None,
        sample: bool = True,
    ) -> tuple[RSSMState, RSSMState, Stats, Stats]:
        """Filter step: returns posterior, prior and their stats; is_first resets the state."""
        return self._obs_step(prev, prev_action, self.posterior.term(embed), is_first, sample)

    def _obs_step(
        self,
        prev: RSSMState,
        prev_action: Tensor,
        embed_term: Tensor,
        is_first: Tensor | None,
        sample: bool,
    ) -> tuple[RSSMState, RSSMState, Stats, Stats]:
        if is_first is not None:
            keep = (~is_first.bool()).to(prev.deter.dtype).unsqueeze(-1)
            prev = RSSMState(prev.deter * keep, prev.stoch * keep)
            prev_action = prev_action * keep
        prior, prior_stats = self.img_step(prev, prev_action, sample)
        post_stats = self.latent.stats(self.posterior(prior.deter, term=embed_term))
        stoch = self.latent.sample(post_stats) if sample else self.latent.mode(post_stats)
        return RSSMState(prior.deter, stoch), prior, post_stats, prior_stats

    def observe(
        self,
        embeds: Tensor,
        prev_actions: Tensor,
        is_first: Tensor,
        start: RSSMState | None = None,
        sample: bool = True,
    ) -> ObserveResult:
        """Filter a (B, T) sequence: embeds (B,T,E), prev_actions (B,T,A), is_first (B,T)."""
        batch, steps = embeds.shape[:2]
        state = self.initial(batch, embeds.device) if start is None else start
        embed_terms = self.posterior.term(embeds)  # one GEMM for the whole sequence
        posts, priors, post_stats, prior_stats = [], [], [], []
        for t in range(steps):
            state, prior, post_s, prior_s = self._obs_step(
                state, prev_actions[:, t], embed_terms[:, t], is_first[:, t], sample
            )
            posts.append(state)
            priors.append(prior)
            post_stats.append(post_s)
            prior_stats.append(prior_s)
        return ObserveResult(
            stack_states(posts),
            stack_states(priors),
            stack_stats(post_stats),
            stack_stats(prior_stats),
        )

    def imagine_linears(self) -> list[nn.Linear]:
        """The dense layers one imagine step runs (for analytic FLOP counts)."""
        return [
            m
            for part in (self.img_in, self.gru, self.prior)
            for m in part.modules()
            if isinstance(m, nn.Linear)
        ]
