"""The reduced-precision planner path (planning/precision.py) against fp32, on the shipped
checkpoint: capability detection, rollout state error, and plan parity.

Tolerances (bf16 has an 8-bit mantissa, ~0.4 % relative rounding per value):
- imagined features after 15 steps: relative L2 error <= 3 % of the fp32 features;
- with the default preset (the actor's plan is kept unless another wins by 20): the sent
  action within 0.05 of fp32's in every dimension (actions lie in [-1, 1]) and the
  expected return within 1 %;
- with the margin off (the sampled plan is sent): the bf16 plan, scored by the fp32
  model, within 3 % of the fp32 plan's own fp32 score: sampling-based plans may differ
  in their actions, not in how good they are.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import torch

from vla_wm_ros.bench.planner import count_flops, start_belief
from vla_wm_ros.models.checkpoint import load_checkpoint
from vla_wm_ros.models.gru import StackedGRU
from vla_wm_ros.planning import build_planner, load_planner_preset
from vla_wm_ros.planning import precision as precision_module
from vla_wm_ros.planning.compiled_graphs import frozen_compile, gru_step
from vla_wm_ros.planning.model import rollout
from vla_wm_ros.planning.precision import (
    PrecisionPlanningModel,
    planning_copy,
    planning_model,
    resolve_precision,
)
from vla_wm_ros.planning.world_model_adapter import WorldModelPlanningModel

CHECKPOINT = Path(__file__).resolve().parents[1] / "models" / "world_model"
NATIVE_BF16 = precision_module.cpu_has_native_bf16()


@pytest.fixture(scope="module")
def shipped() -> WorldModelPlanningModel:
    torch.set_num_threads(1)
    return WorldModelPlanningModel(load_checkpoint(CHECKPOINT))


def goal_of(seed: int, dim: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.nn.functional.normalize(torch.randn(dim, generator=gen), dim=0)


def pretend_cpu(monkeypatch, capability: str, flags: set[str]) -> None:
    monkeypatch.setattr(precision_module, "cpu_flags", lambda: frozenset(flags))
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: capability)


def test_auto_is_bf16_only_on_cpus_with_native_bf16(monkeypatch):
    pretend_cpu(monkeypatch, "AVX2", {"avx2", "fma"})
    assert resolve_precision("auto") == "fp32"
    pretend_cpu(monkeypatch, "AVX512", {"avx512f", "avx512_bf16"})
    assert resolve_precision("auto") == "bf16"
    pretend_cpu(monkeypatch, "AVX512", {"avx512f", "amx_bf16"})
    assert resolve_precision("auto") == "bf16"
    pretend_cpu(monkeypatch, "AVX512", {"avx512f"})  # AVX-512 without bf16 dot products
    assert resolve_precision("auto") == "fp32"
    assert resolve_precision("bf16") == "bf16"  # explicit choices are honoured
    with pytest.raises(ValueError, match="precision 'int8'"):
        resolve_precision("int8")


def test_an_avx2_machine_plans_in_fp32_without_error(monkeypatch, shipped):
    pretend_cpu(monkeypatch, "AVX2", {"avx2", "fma"})
    planner = build_planner(load_planner_preset("default"), shipped)
    assert planner.model is shipped
    result = planner.plan(start_belief(shipped, 0), goal_of(0, shipped.goal_dim))
    assert result.status == "ok" and np.all(np.abs(result.action) <= 1.0)


def test_auto_plans_in_bf16_on_this_cpu_when_it_has_it(shipped):
    planner = build_planner(load_planner_preset("default"), shipped)
    expected = torch.bfloat16 if NATIVE_BF16 else torch.float32
    assert planner.model.dtype == expected
    assert planner.model.action_low.dtype == torch.float32  # actions and scores stay fp32
    assert next(shipped.world_model.parameters()).dtype == torch.float32  # fp32 untouched


def test_a_bf16_plan_that_keeps_the_actor_sends_the_actors_own_action(shipped):
    """The actor's plan kept (an impossible margin) or no time to plan: the bf16 planner
    sends the fp32 actor's action, what actor mode sends, not its bf16 rollout's first
    action (which differs by rounding: 0.002-0.006 on these beliefs)."""
    cfg = load_planner_preset("default")
    cfg.precision = "bf16"
    cfg.mppi.prior_margin = 1e9
    planner = build_planner(cfg, shipped)
    wm = shipped.world_model
    rounded = []
    for seed in range(4):
        belief, goal = start_belief(shipped, seed), goal_of(seed, shipped.goal_dim)
        planner.reset()
        result = planner.plan(belief, goal)
        with torch.inference_mode():
            actor = wm.actor(wm.feature(belief), goal[None]).mode[0].numpy()
        np.testing.assert_allclose(result.action, actor, atol=1e-6)
        rounded.append(np.abs(planner.mean_plan[0].float().numpy() - actor).max())
        fallback = planner.plan(belief, goal, deadline=time.monotonic() - 1.0)
        assert fallback.iterations == 0
        np.testing.assert_allclose(fallback.action, actor, atol=1e-6)
    assert max(rounded) > 1e-4  # the bf16 rollout's own first action is another one


def test_a_bf16_plan_decides_between_actor_and_plan_on_fp32_scores(shipped):
    """The actor's row and the elites of a bf16 plan, scored again: equal to the fp32
    model's own scores of those action sequences, where bf16's own scores differ by more
    than the margin's resolution (exact_decision.py)."""
    from vla_wm_ros.planning.score import SampleScorer, Scores

    cfg = load_planner_preset("default")
    cfg.precision = "bf16"
    planner = build_planner(cfg, shipped)
    assert planner._exact is not None
    cfg.precision = "fp32"
    assert build_planner(cfg, shipped)._exact is None  # fp32 decides on its own scores
    reduced, fp32_scorer = planner.model, SampleScorer(shipped, cfg.mppi, planner.gate)
    index = torch.tensor([5, 9, 17, 40])  # "elites"
    weights = torch.full((4,), 0.25)
    gaps = []
    for seed in range(3):
        belief, goal = start_belief(shipped, seed), goal_of(seed, shipped.goal_dim)
        planner.reset()
        planner.plan(belief, goal)
        stub = Scores(None, None, None, index, weights, None)
        with torch.inference_mode():
            exact, rows = planner._exact.rescore(belief, goal, planner._actions, stub)
            scored = []
            for model, scorer in ((shipped, fp32_scorer), (reduced, planner.scorer)):
                width = shipped.rssm.feature_dim
                features = torch.empty(rows.shape[0] + 1, rows.shape[1], width, dtype=model.dtype)
                features[0] = model.feature(belief)
                rollout(model, features, rows)
                scored.append(scorer(features, rows, model.goal_context(goal)))
        (want, first, spread), (half, _, _) = scored
        np.testing.assert_allclose(exact.returns.numpy(), want.numpy(), rtol=1e-5, atol=1e-4)
        np.testing.assert_allclose(exact.spread.numpy(), spread.numpy(), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(exact.first_reward.numpy(), first.numpy(), atol=1e-5)
        assert torch.equal(rows[:, 0], planner._actions[:, 0])  # row 0: the actor's
        assert exact.index.tolist() == [1, 2, 3, 4] and torch.equal(exact.weights, weights)
        gaps.append(float((half - want).abs().max()))
    assert max(gaps) > 1e-2, gaps  # bf16's own scores of the same sequences


def test_bf16_rollout_stays_within_state_tolerance_of_fp32(shipped):
    reduced = planning_model(shipped, "bf16")
    assert isinstance(reduced, PrecisionPlanningModel)
    horizon, rows = 15, 64
    gen = torch.Generator().manual_seed(1)
    actions = torch.rand(horizon, rows, shipped.action_dim, generator=gen) * 2 - 1
    start = shipped.feature(start_belief(shipped, 1))
    errors = []
    with torch.inference_mode():
        full = torch.empty(horizon + 1, rows, start.shape[1])
        half = torch.empty_like(full, dtype=torch.bfloat16)
        full[0], half[0] = start, start
        rollout(shipped, full, actions)
        rollout(reduced, half, actions)
        for t in range(1, horizon + 1):
            errors.append(float((half[t].float() - full[t]).norm() / full[t].norm()))
    assert max(errors) <= 0.03, errors
    assert errors[0] > 0  # it really ran in bf16


def fp32_return(model: WorldModelPlanningModel, belief, goal, plan: torch.Tensor, cfg) -> float:
    """The fp32 model's discounted reward + terminal value of one action sequence (H, A)."""
    with torch.inference_mode():
        context = model.goal_context(goal)
        feature, total = model.feature(belief), 0.0
        for t in range(plan.shape[0]):
            feature = model.imagine_step(feature, plan[t : t + 1].float())
            total += cfg.discount**t * float(model.reward(feature, context)[0])
        value = float(model.value(feature, context)[0])
    return total + cfg.discount ** plan.shape[0] * value


@pytest.mark.parametrize("margin", ["preset", "off"])
def test_bf16_plans_match_fp32_plans(shipped, margin):
    plans = {}
    for name in ("fp32", "bf16"):
        cfg = load_planner_preset("default")
        cfg.precision = name
        if margin == "off":
            cfg.mppi.prior_margin = None
        planner = build_planner(cfg, shipped)
        plans[name] = []
        for seed in range(4):
            belief, goal = start_belief(shipped, seed), goal_of(seed, shipped.goal_dim)
            planner.reset()
            result = planner.plan(belief, goal)
            score = fp32_return(shipped, belief, goal, planner.mean_plan, cfg.mppi)
            plans[name].append((result, score))
    # Where the score landscape is flat the two precisions may pick different samples, so
    # the check is the plan's worth: the bf16 plan, scored by the fp32 model, is within 3 %
    # of the fp32 plan (with the preset's uncertainty margin and with no margin at all).
    for (_, full_score), (half, half_score) in zip(plans["fp32"], plans["bf16"], strict=True):
        assert np.all(np.abs(half.action) <= 1.0)
        assert half_score >= full_score - 0.03 * abs(full_score)


@pytest.mark.slow
def test_compiled_rollout_matches_the_eager_rollout_and_plans(shipped):
    """torch.compile of the rollout and heads, the Q spread included (tens of seconds to
    compile here)."""
    from vla_wm_ros.planning.precision import resolve_precision

    dtype = precision_module.DTYPES[resolve_precision("auto")]
    compiled = PrecisionPlanningModel(shipped.world_model, dtype, compiled=True)
    eager = PrecisionPlanningModel(shipped.world_model, dtype)
    horizon, rows = 5, 32
    gen = torch.Generator().manual_seed(2)
    actions = torch.rand(horizon, rows, shipped.action_dim, generator=gen) * 2 - 1
    start = shipped.feature(start_belief(shipped, 2)).to(dtype)
    with torch.inference_mode():
        got = torch.empty(horizon + 1, rows, start.shape[1], dtype=dtype)
        want = torch.empty_like(got)
        got[0], want[0] = start, start
        compiled.rollout(got, actions)
        eager.rollout(want, actions)
        error = float((got[1:].float() - want[1:].float()).norm() / want[1:].float().norm())
        goal = compiled.goal_context(goal_of(2, shipped.goal_dim))
        reward_gap = (compiled.reward(want[1], goal) - eager.reward(want[1], goal)).abs().max()
        q_got, q_want = (m.q_spread(want[1], actions[0], goal) for m in (compiled, eager))
        q_error = float((q_got - q_want).norm() / q_want.norm())
    assert error <= (1e-5 if dtype == torch.float32 else 0.02), error
    assert float(reward_gap) <= (1e-4 if dtype == torch.float32 else 0.05)
    # The spread is a std over 5 heads of values ~50-100x larger (the shipped value: ~1 on
    # ~90): bf16 rounds each head's value by up to ~0.25, i.e. ~5-25 % of the spread, and
    # the compiled and eager graphs round at different places (measured: 7 %).
    assert q_error <= (1e-4 if dtype == torch.float32 else 0.25), q_error
    cfg = load_planner_preset("default")
    cfg.compiled_rollout = True
    cfg.mppi.iterations = 2  # the whole-plan graph unrolls every iteration: half the compile
    planner = build_planner(cfg, shipped)
    assert planner.model.compiled and planner.model.policy_rollout is not None
    cfg.precision, cfg.compiled_rollout = "fp32", False
    reference = build_planner(cfg, shipped)
    belief, goal = start_belief(shipped, 0), goal_of(0, shipped.goal_dim)
    result, want = planner.plan(belief, goal), reference.plan(belief, goal)
    assert result.status == "ok"
    assert np.abs(result.action - want.action).max() <= 0.05  # the actor's plan, kept
    # The plan ran each iteration as one graph; it scores as the separate graphs do.
    scorer, model, p = planner.scorer, planner.model, planner._n_pi
    assert scorer.fused is not None and scorer.uses_q_penalty
    features, actions = planner._features, planner._actions
    with torch.inference_mode():
        context = model.goal_context(goal)
        sampling = (planner._mean, planner._std, planner._noise.normal_())
        fused = scorer.sample_and_score(features, actions, sampling, context, p)
        rollout(model, features[:, p:], actions[:, p:])  # the same samples, separately
        apart = scorer(features, actions, context)
    assert fused[2] is not None and apart[2] is not None  # the Q spread, penalised
    for got, expected in zip(fused, apart, strict=True):  # bf16 rounds at other places
        gap = float((got - expected).abs().max() / expected.abs().max())
        assert gap <= (1e-4 if dtype == torch.float32 else 0.02), gap
    # With its iterations measured, a plan runs as one graph where it fits the deadline:
    # from the same noise it refits to the same mean (up to elites that bf16 rounding
    # swaps where two returns are nearly equal).
    whole, means = planner._whole, {}
    assert whole is not None and whole.ms is None
    for name in ("iterations", "whole"):
        planner.reset()
        torch.manual_seed(7)
        planner._generator.manual_seed(7)
        planner._whole = whole if name == "whole" else None
        assert planner.plan(belief, goal).status == "ok"
        means[name] = planner._mean.clone()
    assert whole.ms is not None  # the second plan ran as one graph
    gap = float((means["whole"] - means["iterations"]).abs().max())
    assert gap <= (1e-4 if dtype == torch.float32 else 0.05), gap
    now, took, n = time.monotonic(), whole.ms / 1e3, cfg.mppi.samples
    measured = (planner._first_ms, planner._iter_ms)
    assert whole.fits(n, *measured, now + 2 * took)
    assert not whole.fits(n, *measured, now + took / 2)  # by iterations
    assert not whole.fits(n // 2, *measured, None)  # shrunk: by iterations
    assert not whole.fits(n, None, None, None)  # the iterations not measured yet


@pytest.mark.parametrize("norm", [True, False])
def test_the_split_gru_step_is_the_gru(norm):
    """compiled_graphs.gru_step (gates and candidate as two GEMMs without a norm) is
    StackedGRU.forward, in fp32 to rounding."""
    torch.manual_seed(0)
    gru = StackedGRU(48, 32, 2, norm).eval()
    x, state = torch.randn(16, 48), torch.randn(16, 64)
    with torch.inference_mode():
        assert torch.allclose(gru_step(gru, x, state), gru(x, state), atol=1e-5)


def test_the_reduced_copy_leaves_out_what_planning_never_runs(shipped):
    copy = planning_copy(shipped.world_model, torch.bfloat16)
    assert copy.encoder is None and copy.decoder is None and copy.target_critic is None
    assert copy.offline_value.target_q is None and copy.offline_value.q is not None
    assert next(copy.rssm.parameters()).dtype == torch.bfloat16
    full = sum(p.numel() for p in shipped.world_model.parameters())
    assert sum(p.numel() for p in copy.parameters()) < full / 2


@pytest.mark.slow
def test_compiled_graphs_freeze_their_weights():
    """frozen_compile bakes the weights into the graph (what lets Inductor prepack them):
    a later in-place change to the module is not seen, where an unfrozen graph sees it."""
    torch.manual_seed(0)
    layer = torch.nn.Linear(8, 8).eval().requires_grad_(False)
    frozen = frozen_compile(layer)
    x = torch.randn(4, 8)
    with torch.inference_mode():
        before = frozen(x).clone()
        layer.weight.mul_(2.0)
        assert torch.equal(frozen(x), before)
        assert not torch.allclose(layer(x), before)


def test_bench_flops_count_the_in_place_gemms():
    """The ImagineKernel's recurrent GEMM is an in-place addmm_: counted like addmm."""
    a, b, out = torch.randn(10, 20), torch.randn(20, 30), torch.zeros(10, 30)
    assert count_flops(lambda: out.addmm_(a, b)) == count_flops(lambda: torch.addmm(out, a, b))
    assert count_flops(lambda: out.addmm_(a, b)) == 2 * 10 * 20 * 30
