"""Reduced-precision planning: the world model's GEMMs in bf16 (or fp16) where the
hardware runs them natively, fp32 everywhere else.

Why: the sampling planners spend most of a plan in small dense GEMMs. On CPUs with
AVX512-BF16 / AMX-BF16 a bf16 GEMM runs several times faster than fp32 (one thread on the
development Xeon: ~1.3 TFLOP/s bf16 with AMX against ~0.17 TFLOP/s fp32, `vla-wm bench
planner` measures both); on CUDA fp16/bf16 use the tensor cores. On a CPU without native
bf16 (AVX2) bf16 is emulated and slower than fp32, so fp32 is kept.

What runs in reduced precision: the latent rollout (imagine step), the reward, value,
policy and ensemble heads, and the imagined features. What stays fp32: the actions, the
sampling distribution (mean, std, noise), and every score the planner compares (rewards,
returns, values come back as fp32), so elite selection and refits are not rounded.
The fp32 weights are never changed: the reduced copy (`planning_copy`, only the parts
planning reads) is made once, at construction.
"""

from __future__ import annotations

import copy
import sys
from functools import lru_cache
from pathlib import Path
from typing import Literal

import torch
from torch import Tensor

from vla_wm_ros.planning.compiled_graphs import (
    ScoreParts,
    compiled_plan,
    compiled_prior_rollout,
    compiled_rollout,
    compiled_scored_rollout,
    frozen_compile,
)
from vla_wm_ros.planning.config import SamplingConfig
from vla_wm_ros.planning.world_model_adapter import GoalTerms, WorldModelPlanningModel

Precision = Literal["auto", "fp32", "bf16", "fp16"]
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


@lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """The CPU feature flags the kernel reports (Linux /proc/cpuinfo; empty elsewhere)."""
    path = Path("/proc/cpuinfo")
    if not sys.platform.startswith("linux") or not path.exists():
        return frozenset()
    for line in path.read_text().splitlines():
        if line.startswith("flags"):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def cpu_has_native_bf16() -> bool:
    """True when this CPU computes bf16 dot products in hardware (AVX512-BF16 or AMX-BF16)
    and PyTorch's CPU kernels use AVX-512 (so its bf16 GEMMs reach those instructions)."""
    capability = torch.backends.cpu.get_cpu_capability()
    return capability.startswith("AVX512") and any(f in cpu_flags() for f in CPU_BF16_FLAGS)


def resolve_precision(precision: Precision, device: str | torch.device = "cpu") -> str:
    """The precision `precision` means on `device`: 'auto' picks bf16 on CPUs with native
    bf16, bf16 on CUDA devices that support it (fp16 on older ones), fp32 otherwise.
    An explicit bf16/fp16 is honoured as asked (it may be slow where it is emulated)."""
    if precision not in ("auto", *DTYPES):
        raise ValueError(f"planner precision {precision!r}: choose auto, {', '.join(DTYPES)}")
    if precision != "auto":
        return precision
    if torch.device(device).type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "bf16" if cpu_has_native_bf16() else "fp32"


class PrecisionPlanningModel(WorldModelPlanningModel):
    """WorldModelPlanningModel in `dtype`, fp32 at the edges, with a fused rollout.

    For a reduced `dtype` it plans over a copy of the world model in that dtype: features
    (the planner's trajectory tensor) are `dtype`, actions go in as fp32 and are cast on
    the way into the GEMM, rewards, values, policy actions and disagreement come back as
    fp32. Autograd (gradient MPC) is not served: plan those with the fp32 model.

    `rollout` does a sampling iteration's H imagine steps in one call. `compiled=True`
    runs them as one `torch.compile`d graph, a whole iteration's sampling, rollout and
    scoring as one (`scored_rollout`), and the actor prior's trajectories
    (`policy_rollout`), the reward, value, Q spread and the actor's mode as one graph each
    (`planning/compiled_graphs.py`: Inductor, weights frozen and prepacked for oneDNN,
    the elementwise ops between GEMMs fused into generated C++; one graph per batch size,
    compiled on the first plan, which takes tens of seconds on a 2-core CPU); otherwise
    the rollout loops the allocation-light ImagineKernel and the heads run eagerly.
    """

    def __init__(
        self, world_model, dtype: torch.dtype, sample_latent: bool = False, compiled: bool = False
    ):
        full = world_model
        if next(world_model.parameters()).dtype != dtype:
            world_model = planning_copy(world_model, dtype)
        super().__init__(world_model, sample_latent=sample_latent)
        self.full_precision = full
        # The fp32 weights as a planning model, where this one plans in another dtype: the
        # sampling planners decide between the actor and a plan on it (exact_decision.py).
        self.full_precision_model = (
            WorldModelPlanningModel(full, sample_latent=sample_latent)
            if full is not world_model
            else None
        )
        self.action_low = self.action_low.float()
        self.action_high = self.action_high.float()
        self.compiled = compiled and not sample_latent
        self._graph = compiled_rollout(self.rssm) if self.compiled else None
        wm = self.world_model
        self._reward_graph = frozen_compile(wm.reward_head) if self.compiled else None
        value_head = wm.critic if wm.offline_value is None else wm.offline_value.value
        self._value_graph = frozen_compile(value_head) if self.compiled else None
        self._mode_graph = frozen_compile(lambda f, term: wm.actor(f, goal_term=term).mode)
        self._mode_graph = self._mode_graph if self.compiled else None
        offline = wm.offline_value
        self._q_graph = frozen_compile(offline.spread) if self.compiled and offline else None
        self._value_head = value_head
        self._scored_graphs: dict[bool, object] = {}  # by "with the Q spread"
        if self.compiled:  # planning.sampling and planning.score use them when present
            self.policy_rollout = self._policy_rollout
            self.scored_rollout = self._scored_rollout
            self.plan_graph = self._plan_graph
            self._prior_graph = compiled_prior_rollout(self.rssm, wm.actor)

    def imagine_step(self, feature: Tensor, action: Tensor, out: Tensor | None = None) -> Tensor:
        if torch.is_grad_enabled():
            raise RuntimeError("PrecisionPlanningModel plans without autograd; use fp32 for it")
        return self.kernel.step(feature, action.to(self.dtype), out=out, sample=self.sample_latent)

    def rollout(self, features: Tensor, actions: Tensor) -> None:
        """features[1:] (H+1, N, F) from features[0] under actions (H, N, A), in place."""
        if self._graph is not None:
            features[1:].copy_(self._graph(features[0], actions))
            return
        for t in range(actions.shape[0]):
            self.imagine_step(features[t], actions[t], out=features[t + 1])

    def _policy_rollout(self, features: Tensor, actions: Tensor, context: GoalTerms) -> None:
        """The actor prior's trajectories in one compiled graph: features[1:] (H+1, P, F)
        and actions (H, P, A) filled from features[0]; row 0 follows the actor's mode,
        the others sample it (noise drawn here, from the global generator)."""
        horizon, rows, width = actions.shape
        noise = torch.randn(horizon, rows, width, dtype=self.dtype, device=actions.device)
        acts, feats = self._prior_graph(
            features[0], context.actor, noise, self.action_low, self.action_high
        )
        actions.copy_(acts)
        features[1:].copy_(feats)

    def _scored_rollout(
        self,
        f0: Tensor,
        prior: tuple[Tensor, Tensor],
        sampling: tuple[Tensor, Tensor, Tensor],
        context: GoalTerms,
        discounts: Tensor,
        terminal: float,
        q_weight: float,
        spread: bool,
    ) -> tuple[Tensor, Tensor, Tensor, Tensor | None]:
        """One sampling iteration in one compiled graph (compiled_graphs.compiled_scored_
        rollout): `prior` the actor rows' (features (H, P, F), actions (H, P, A)),
        `sampling` (mean, std, noise); the Q spread computed when `spread`."""
        graph = self._scored_graphs.get(spread)
        if graph is None:
            graph = compiled_scored_rollout(self._score_parts(spread))
            self._scored_graphs[spread] = graph
        low, high = self.action_low.view(1, 1, -1), self.action_high.view(1, 1, -1)
        terms = self._goal_terms(context, spread)
        return graph(f0, prior, sampling, (low, high), terms, discounts, terminal, q_weight)

    def _score_parts(self, spread: bool) -> ScoreParts:
        q = self.offline_value.spread if spread else None
        return ScoreParts(self.rssm, self.world_model.reward_head, self._value_head, q)

    def _goal_terms(self, context: GoalTerms, spread: bool) -> tuple:
        """(reward, value, Q heads' (E, H) or None) goal terms of the scoring graphs."""
        heads = len(self.offline_value.q.heads) if spread else 0
        return context.reward, context.value, context.q.view(heads, -1) if spread else None

    def _plan_graph(self, cfg: SamplingConfig, elite_weights, spread: bool):
        """A whole plan as one compiled graph (compiled_graphs.compiled_plan), as a call
        (f0, context, (previous plan, blend), sample noise, discounts, terminal, q_weight)
        -> compiled_plan's outputs; the actor prior's noise is drawn here, from the global
        generator, as `policy_rollout` draws it."""
        graph = compiled_plan(self._score_parts(spread), self.world_model.actor, cfg, elite_weights)
        bounds = (self.action_low, self.action_high)
        prior_shape = (cfg.horizon, cfg.policy_samples, self.action_dim)

        def run(f0, context: GoalTerms, start, noise, discounts, terminal, q_weight):
            prior_noise = torch.randn(prior_shape, dtype=self.dtype, device=f0.device)
            terms = self._goal_terms(context, spread)
            prior = (context.actor, prior_noise)
            return graph(f0, prior, start, noise, bounds, terms, discounts, terminal, q_weight)

        return run

    def reward(self, feature: Tensor, context: GoalTerms) -> Tensor:
        if self._reward_graph is not None:
            return self._reward_graph(feature, goal_term=context.reward).float()
        return super().reward(feature, context).float()

    def value(self, feature: Tensor, context: GoalTerms) -> Tensor:
        if self._value_graph is not None:
            return self._value_graph(feature, goal_term=context.value).float()
        return super().value(feature, context).float()

    def policy(self, feature: Tensor, context: GoalTerms, sample: bool) -> Tensor:
        if self._mode_graph is not None and not sample:
            return self._mode_graph(feature, context.actor).float()
        return super().policy(feature, context, sample).float()

    def q_spread(self, feature: Tensor, action: Tensor, context: GoalTerms) -> Tensor:
        if self._q_graph is not None and context.q is not None:
            terms = context.q.view(len(self.offline_value.q.heads), -1)
            return self._q_graph(feature, action.to(self.dtype), terms).float()
        return super().q_spread(feature, action.to(self.dtype), context).float()

    def disagreement(self, feature: Tensor, action: Tensor) -> Tensor:
        return super().disagreement(feature, action.to(self.dtype)).float()


def planning_copy(world_model, dtype: torch.dtype):
    """A copy in `dtype` of the parts of `world_model` a sampling planner reads: the RSSM,
    the reward, actor and critic heads, the offline V and Q heads and ensemble dynamics.
    The observation encoder, decoder, temporal encoder, continue head, state heads and the
    target networks are left out (None in the copy), not duplicated: the reduced copy would
    otherwise hold a second image model that planning never runs."""
    wm = world_model
    skip = [wm.encoder, wm.decoder, wm.temporal, wm.continue_head, wm.target_critic]
    if wm.ensemble is None:
        skip.append(wm.dynamics)
    if wm.offline_value is not None:
        skip.append(wm.offline_value.target_q)
    skip += wm.state_heads().values()
    memo = {id(module): None for module in skip}
    return copy.deepcopy(wm, memo).to(dtype).requires_grad_(False)


def planning_model(
    model: WorldModelPlanningModel, precision: Precision = "auto", compiled: bool = False
) -> WorldModelPlanningModel:
    """The model the sampling planners plan over: `model` itself when a deploy backend
    serves it (the backend's own precision rules) or when fp32 eager is what is asked,
    else a PrecisionPlanningModel in the precision `precision` resolves to here."""
    if type(model) is not WorldModelPlanningModel or model.units is not None:
        return model
    dtype = DTYPES[resolve_precision(precision, model.action_low.device)]
    if dtype == torch.float32 and not compiled:
        return model
    return PrecisionPlanningModel(model.world_model, dtype, model.sample_latent, compiled)
