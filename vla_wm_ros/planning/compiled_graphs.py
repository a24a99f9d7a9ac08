"""The graphs the compiled planner path runs (`torch.compile`, Inductor, weights frozen).

Why a file of its own: what Inductor makes of a graph depends on how the graph is written.
Frozen weights let Inductor prepack every Linear for oneDNN and fuse a sigmoid (or SiLU)
that directly follows a Linear into the GEMM as a post-op, where it costs a few percent of
the GEMM instead of a separate pass over memory with an exp per element. The imagine step
here is `RSSM.imagine_step(sample=False)` written so that this fusion can happen: without
LayerNorm on the GRU gates, each GRU layer runs its reset/update gates and its candidate
as two GEMMs over the same [x, h] (the rows of the one `cell` weight, split), so the gates'
sigmoid fuses. Same math; the gates' sigmoid reads the fp32 accumulator instead of the
bf16-rounded pre-activation.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from vla_wm_ros.models.distributions import TanhNormal
from vla_wm_ros.models.gru import StackedGRU
from vla_wm_ros.models.rssm import RSSM
from vla_wm_ros.planning.config import SamplingConfig
from vla_wm_ros.planning.refit import elite_refit


def gru_step(gru: StackedGRU, x: Tensor, state: Tensor) -> Tensor:
    """`gru(x, state)`, with the gate GEMM split in two when no LayerNorm sits between the
    GEMM and the gates' sigmoid (with one, the norm needs all three gates' columns)."""
    if gru.norms is not None:
        return gru(x, state)
    w, outputs = gru.width, []
    for i, cell in enumerate(gru.cells):
        h = state[:, i * w : (i + 1) * w]
        xh = torch.cat([x, h], dim=-1)
        bias = cell.bias
        gates = torch.sigmoid(F.linear(xh, cell.weight[: 2 * w], bias[: 2 * w]))
        cand_in = F.linear(xh, cell.weight[2 * w :], bias[2 * w :])
        reset, update = gates[:, :w], gates[:, w:]
        cand = torch.sigmoid((reset * cand_in).mul(2.0)).mul(2.0).sub(1.0)
        x = torch.lerp(h, cand, update)
        outputs.append(x)
    return outputs[0] if gru.layers == 1 else torch.cat(outputs, dim=-1)


def imagine_mode_step(rssm: RSSM, feature: Tensor, action: Tensor) -> Tensor:
    """(N, D+S) feature, (N, A) action -> next feature under the prior's mode."""
    d = rssm.deter_size
    x = rssm.img_in(torch.cat([feature[:, d:], action], dim=-1))
    deter = gru_step(rssm.gru, x, feature[:, :d])
    stoch = rssm.latent.mode(rssm.latent.stats(rssm.prior(deter)))
    return torch.cat([deter, stoch], dim=-1)


def compiled_rollout(rssm: RSSM):
    """(N, F) start features, (H, N, A) actions -> (H, N, F) next features, compiled."""

    def run(start: Tensor, actions: Tensor) -> Tensor:
        feature, out = start, []
        for t in range(actions.shape[0]):
            feature = imagine_mode_step(rssm, feature, actions[t].to(start.dtype))
            out.append(feature)
        return torch.stack(out)

    return frozen_compile(run)


def prior_rollout(rssm: RSSM, actor, start, term, noise, low, high):
    """The actor prior's trajectories: (P, F) start, (H, P, A) noise -> actions (H, P, A)
    fp32 and features (H, P, F): row 0 the actor's mode, rows 1.. its samples, clamped."""
    feature, feats, acts = start, [], []
    for t in range(noise.shape[0]):
        dist = actor(feature, goal_term=term)
        sampled = TanhNormal(dist.loc[1:], dist.std[1:]).rsample(noise[t, 1:])
        action = torch.cat([dist.mode[:1], sampled]).float()
        action = torch.minimum(torch.maximum(action, low), high)
        feature = imagine_mode_step(rssm, feature, action.to(start.dtype))
        acts.append(action)
        feats.append(feature)
    return torch.stack(acts), torch.stack(feats)


def compiled_prior_rollout(rssm: RSSM, actor):
    """`prior_rollout` as one compiled graph: (P, F) start, actor goal term, (H, P, A)
    noise, bounds -> actions (H, P, A) fp32 and features (H, P, F)."""
    return frozen_compile(lambda *args: prior_rollout(rssm, actor, *args))


class ScoreParts(NamedTuple):
    """The model parts that imagine and score a sample: the RSSM, the reward and value
    heads and the Q ensemble's spread (None: no spread computed)."""

    rssm: RSSM
    reward_head: object
    value_head: object
    q_spread: object | None


def scored_samples(
    parts: ScoreParts,
    f0: Tensor,
    prior: tuple[Tensor, Tensor],
    sampling: tuple[Tensor, Tensor, Tensor],
    bounds: tuple[Tensor, Tensor],
    terms: tuple[Tensor, Tensor, Tensor | None],
    discounts: Tensor,
    terminal: float,
    q_weight: float,
):
    """One sampling iteration's model work: the samples around the mean (clamped to
    bounds), their rollout, and every sample's score (the actor prior's rows, rolled out
    once per plan, are passed in and scored with them). Same math as `rollout` +
    SampleScorer's rewards, terminal value and Q-spread terms.

    (1, F) f0, prior features (H, P, F) and actions (H, P, A), (mean, std (H, 1, A),
    noise (H, N-P, A)), bounds (1, 1, A) each, the reward, value and Q heads' (E, H) goal
    terms (None without a spread), discounts (H,) -> sampled actions (H, N-P, A), returns
    (N,), first-step rewards (N,), discounted Q spread (N,) or None.
    """
    (prior_feats, prior_acts), (mean, std, noise), (low, high) = prior, sampling, bounds
    reward_term, value_term, q_terms = terms
    sampled = torch.minimum(torch.maximum(torch.addcmul(mean, std, noise), low), high)
    feature, out = f0.expand(sampled.shape[1], -1), []
    for t in range(sampled.shape[0]):
        feature = imagine_mode_step(parts.rssm, feature, sampled[t].to(f0.dtype))
        out.append(feature)
    feats = torch.cat([prior_feats, torch.stack(out)], dim=1)
    actions = torch.cat([prior_acts, sampled], dim=1)
    h, n, width = feats.shape
    flat = feats.reshape(h * n, width)
    rewards = parts.reward_head(flat, goal_term=reward_term).float().view(h, n)
    returns = discounts @ rewards
    if terminal:
        returns = returns + terminal * parts.value_head(feats[-1], goal_term=value_term).float()
    spread = None
    if parts.q_spread is not None:
        states = torch.cat([f0.expand(1, n, width), feats[:-1]]).reshape(h * n, width)
        moves = actions.reshape(h * n, -1).to(f0.dtype)
        spread = discounts @ parts.q_spread(states, moves, q_terms).float().view(h, n)
        if q_weight:
            returns = returns - q_weight * spread
    return sampled, returns, rewards[0], spread


def compiled_scored_rollout(parts: ScoreParts):
    """`scored_samples` as one compiled graph: one call per iteration instead of four
    (rollout, reward, value, Q spread), the sampling and scoring arithmetic fused into the
    graph instead of a dozen eager ops."""
    return frozen_compile(lambda *args: scored_samples(parts, *args))


def compiled_plan(parts: ScoreParts, actor, cfg: SamplingConfig, elite_weights):
    """A whole sampling plan as one compiled graph: the actor prior's rollout, the start
    distribution, every iteration's samples, scores and elite refit (`elite_weights`: the
    planner's rule). Same math as SamplingPlanner's loop (warm start, prior rows kept as
    candidates, planning/refit.py), one call per plan instead of 1 + iterations graph
    calls with the refits between them in eager ops; used when the whole plan fits the
    deadline (no iteration is to be cut).

    (1, F) f0, (actor goal term, prior noise (H, P, A)), (previous plan (H, 1, A), blend
    (1,): the weight of the actor's mode trajectory in the start mean, prior_weight or 1
    without a previous plan), sample noise (I, H, N-P, A), bounds (A,) each, goal terms (reward,
    value, Q), discounts (H,) -> the last iteration's actions (H, N, A), returns,
    first-step rewards, elite returns, indices, weights and Q spread, and the refit mean
    and std (H, 1, A).
    """

    def run(f0, prior, start, noise, bounds, terms, discounts, terminal, q_weight):
        (actor_term, prior_noise), (prev, blend), (low, high) = prior, start, bounds
        rows = prior_noise.shape[1]
        prior_acts, prior_feats = prior_rollout(
            parts.rssm, actor, f0.expand(rows, -1), actor_term, prior_noise, low, high
        )
        shifted = torch.cat([prev[1:], prev[-1:]])
        mean = torch.lerp(shifted, prior_acts[:, :1], blend)
        std = torch.full_like(mean, cfg.max_std)
        box = (low.view(1, 1, -1), high.view(1, 1, -1))
        for i in range(noise.shape[0]):
            sampled, returns, first, spread = scored_samples(
                parts, f0, (prior_feats, prior_acts), (mean, std, noise[i]), box, terms,
                discounts, terminal, q_weight,
            )  # fmt: skip
            actions = torch.cat([prior_acts, sampled], dim=1)
            elite_returns, index, weights, mean, std = elite_refit(
                actions, returns, cfg.elites, elite_weights, cfg.min_std, cfg.max_std
            )
        return actions, returns, first, elite_returns, index, weights, spread, mean, std

    return frozen_compile(run)


def frozen_compile(fn):
    """torch.compile for planning: static shapes (a planner calls with a few fixed batch
    sizes), weights frozen into the graph (Inductor prepacks them for oneDNN's GEMMs and
    fuses a following sigmoid / SiLU into them), and the graph's wrapper generated in C++
    (a few hundred kernel calls per plan without a Python call each: ~10 % of a default
    plan here; the first call compiles ~25 % longer).

    Freezing is switched on in Inductor's config around every call, not only passed as a
    compile option: Dynamo decides whether parameters become constants while it traces,
    from the global `torch._inductor.config.freezing`, before compile options apply; with
    the option alone the weights stayed graph inputs and every GEMM ran unpacked."""
    from torch._inductor import config as inductor_config

    graph = torch.compile(fn, dynamic=False, options={"freezing": True, "cpp_wrapper": True})

    def run(*args, **kwargs):
        before = inductor_config.freezing  # set and restored by hand: config.patch costs 4x
        inductor_config.freezing = True
        try:
            return graph(*args, **kwargs)
        finally:
            inductor_config.freezing = before

    return run
