"""Measurements behind `vla-wm bench planner`: our planner, the seed-style loop and TorchRL.

All three run in one process on the same world-model sizes, interleaved round by round
(ours, seed-style, TorchRL, ours, ...) so that load from other processes on a shared
machine hits each of them alike; ratios are taken from the medians. FLOPs are counted by
torch's FlopCounterMode over one whole plan (every GEMM the plan runs: dynamics, heads,
policy prior, refits), so FLOPs per transition and the roofline fraction cover the
planner as it runs, not just the model.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode

from vla_wm_ros.bench.seed_style import SeedStyleCEM, SeedStyleMPPI, SeedStyleRSSM
from vla_wm_ros.config.model import WorldModelConfig
from vla_wm_ros.latency import latency_summary
from vla_wm_ros.models.rssm import RSSMState
from vla_wm_ros.models.world_model import WorldModel
from vla_wm_ros.planning.config import (
    MPPIConfig,
    PlannerConfig,
    SamplingConfig,
    load_planner_preset,
)
from vla_wm_ros.planning.world_model_adapter import WorldModelPlanningModel


@dataclass
class Contender:
    """One way of planning: a call, and how many imagined transitions one call makes."""

    name: str
    call: Callable[[], object]
    transitions: int
    flops: float = 0.0
    times_ms: list[float] | None = None


def sampling_settings(cfg: PlannerConfig) -> SamplingConfig:
    """The sampling block the planner kind uses (the slow level for hierarchical)."""
    kind = cfg.hierarchical.slow if cfg.kind == "hierarchical" else cfg.kind
    if kind not in ("mppi", "cem"):
        raise ValueError(f"bench planner measures sampling planners, not {cfg.kind!r}")
    return getattr(cfg, kind)


def make_world_model(cfg: WorldModelConfig, action_dim: int, seed: int) -> WorldModel:
    """A randomly initialised world model of the preset's sizes (speed needs no training)."""
    torch.manual_seed(seed)
    return WorldModel(cfg, action_dim=action_dim).eval().requires_grad_(False)


def start_belief(model: WorldModelPlanningModel, seed: int) -> RSSMState:
    """A plausible batch-1 belief: a few imagined steps from the initial state."""
    gen = torch.Generator().manual_seed(seed)
    state = model.rssm.initial(1)
    with torch.inference_mode():
        for _ in range(5):
            action = torch.rand(1, model.action_dim, generator=gen) * 2 - 1
            state = model.rssm.imagine_step(state, action, sample=False)
    return RSSMState(state.deter.clone(), state.stoch.clone())


def transitions_per_plan(cfg: SamplingConfig) -> int:
    """Imagined transitions one plan makes: the prior's rollout once, samples every round."""
    sampled = (cfg.samples - cfg.policy_samples) * cfg.iterations
    return cfg.horizon * (sampled + cfg.policy_samples)


def seed_style_contender(
    wm_cfg: WorldModelConfig, cfg: SamplingConfig, kind: str, action_dim: int, seed: int
) -> Contender:
    """The seed's CEM or MPPI loop on an RSSM of the same sizes."""
    torch.manual_seed(seed)
    r = wm_cfg.rssm
    model = SeedStyleRSSM(
        action_dim,
        state_dim=r.deter,
        stochastic_dim=r.stoch,
        hidden_dim=r.hidden,
        num_layers=r.gru_layers,
        prior_layers=r.prior_layers,
        reward_hidden=wm_cfg.heads.hidden,
        reward_layers=wm_cfg.heads.layers,
    ).eval()
    if kind == "cem":
        planner = SeedStyleCEM(
            model, action_dim, cfg.horizon, cfg.samples, cfg.elites, cfg.iterations
        )
        transitions = cfg.horizon * cfg.samples * cfg.iterations
    else:
        # A slow CEM under hierarchical has none: the seed document's MPPI temperature.
        temperature = getattr(cfg, "temperature", load_planner_preset("seed").mppi.temperature)
        planner = SeedStyleMPPI(
            model, action_dim, cfg.horizon, cfg.samples, temperature, cfg.max_std
        )
        transitions = cfg.horizon * cfg.samples
    state, stoch = model.initial_state(1)

    def call() -> Tensor:
        with torch.no_grad():  # the seed plans under no_grad
            return planner.plan(state, stoch)

    return Contender(f"seed_style_{kind}", call, transitions)


def torchrl_contender(
    model: WorldModelPlanningModel, belief: RSSMState, goal: Tensor, cfg: SamplingConfig
) -> Contender:
    """TorchRL's MPPIPlanner over the same networks and sampling settings."""
    from vla_wm_ros.bench.torchrl_mppi import build_torchrl_mppi

    context = model.goal_context(goal)
    wm = model.world_model

    d = model.rssm.deter_size

    class Transition(nn.Module):
        """Our allocation-light imagine step, so TorchRL runs the same model math."""

        def forward(self, deter: Tensor, stoch: Tensor, action: Tensor):
            shape = deter.shape[:-1]
            feature = torch.cat([deter, stoch], -1).reshape(-1, d + stoch.shape[-1])
            nxt = model.imagine_step(feature, action.reshape(feature.shape[0], -1))
            return nxt[:, :d].reshape(*shape, d), nxt[:, d:].reshape(*shape, -1)

    class Reward(nn.Module):
        def forward(self, deter: Tensor, stoch: Tensor) -> Tensor:
            feature = torch.cat([deter, stoch], -1)
            return wm.reward_head(feature, goal_term=context.reward).unsqueeze(-1)

    class Value(nn.Module):
        def forward(self, deter: Tensor, stoch: Tensor) -> Tensor:
            feature = torch.cat([deter, stoch], -1)
            return wm.critic(feature, goal_term=context.value).unsqueeze(-1)

    plan = build_torchrl_mppi(
        Transition(),
        Reward(),
        Value(),
        model.rssm.deter_size,
        model.rssm.stoch_size,
        model.action_dim,
        cfg.horizon,
        cfg.iterations,
        cfg.samples,
        cfg.elites,
        getattr(cfg, "temperature", MPPIConfig.temperature),
        cfg.discount,
    )

    def call() -> Tensor:
        with torch.inference_mode():
            return plan(belief.deter, belief.stoch)

    return Contender("torchrl_mppi", call, cfg.horizon * cfg.samples * cfg.iterations)


# FlopCounterMode's table has the out-of-place GEMMs only: the in-place `addmm_` that the
# ImagineKernel's GRU uses for its recurrent half (and `baddbmm_`) counted as 0 FLOPs, which
# under-reported every eager plan's FLOPs (the default preset's by a third).
def _addmm_flops(bias_shape, a_shape, b_shape, out_shape=None, **kwargs) -> int:
    return 2 * a_shape[0] * a_shape[1] * b_shape[1]


def _baddbmm_flops(bias_shape, a_shape, b_shape, out_shape=None, **kwargs) -> int:
    return 2 * a_shape[0] * a_shape[1] * a_shape[2] * b_shape[2]


_IN_PLACE_GEMMS = {torch.ops.aten.addmm_: _addmm_flops, torch.ops.aten.baddbmm_: _baddbmm_flops}


def count_flops(call: Callable[[], object]) -> float:
    with FlopCounterMode(display=False, custom_mapping=_IN_PLACE_GEMMS) as counter:
        call()
    return float(counter.get_total_flops())


def run_interleaved(
    contenders: list[Contender], rounds: int, warmup: int, progress: Callable[[], None]
) -> None:
    """Warm each up, count its FLOPs (unless given: a compiled call runs the FLOPs of its
    eager twin, and FlopCounterMode does not see inside a compiled graph), then time one
    call of each per round."""
    for c in contenders:
        for _ in range(warmup):
            c.call()
        if not c.flops:
            c.flops = count_flops(c.call)
        c.times_ms = []
    for _ in range(rounds):
        for c in contenders:
            t0 = time.perf_counter()
            c.call()
            c.times_ms.append((time.perf_counter() - t0) * 1e3)
        progress()


def summary(c: Contender, peak: float) -> dict:
    """Latency, throughput, FLOPs and roofline (against `peak`, the GEMM FLOP/s of the
    precision it computes in) of one contender."""
    p50 = float(np.median(c.times_ms))
    flops_per_s = c.flops / (p50 / 1e3)
    return {
        "ms_per_plan": latency_summary(c.times_ms),
        "transitions_per_plan": c.transitions,
        "imagined_transitions_per_s": c.transitions / (p50 / 1e3),
        "flops_per_transition": c.flops / c.transitions,
        "achieved_flops_per_s": flops_per_s,
        "roofline_fraction": flops_per_s / peak,
    }
