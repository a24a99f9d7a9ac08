"""Planners on a linear-quadratic point mass, where the optimum is known in closed form."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from linear_system import point_mass
from timing import Stopwatch

from vla_wm_ros import planning
from vla_wm_ros.config import ConfigError, from_dict, to_dict
from vla_wm_ros.planning import (
    CEMConfig,
    CEMPlanner,
    GradientMPC,
    GradientMPCConfig,
    HierarchicalConfig,
    HierarchicalPlanner,
    MPPIConfig,
    MPPIPlanner,
    PlannerConfig,
    SafetyConfig,
    build_planner,
    load_planner_preset,
)

X0 = torch.tensor([1.0, -0.6, 0.0, 0.3, 0.0, 0.0, 1.0])  # position, velocity, last action, 1
GOAL = torch.tensor([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0])
DISCOUNT = 0.99


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny matmuls: one thread avoids OpenMP hand-offs on a shared 2-core machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def sampling_cfg(cls, **overrides):
    base = dict(horizon=8, iterations=10, samples=1024, elites=64, policy_samples=16)
    if cls is MPPIConfig:
        base["temperature"] = 0.1
    base.update(overrides)
    return cls(**base)


def step(system, x: torch.Tensor, action: np.ndarray) -> torch.Tensor:
    return system.imagine_step(x.view(1, -1), torch.as_tensor(action).view(1, -1))[0]


@pytest.mark.parametrize(
    ("planner_cls", "cfg_cls"), [(MPPIPlanner, MPPIConfig), (CEMPlanner, CEMConfig)]
)
def test_sampling_planners_land_near_the_closed_form_optimum(planner_cls, cfg_cls):
    system = point_mass()
    cfg = sampling_cfg(cfg_cls)
    optimum = system.optimal_actions(X0, GOAL, cfg.horizon, DISCOUNT)
    assert optimum.abs().max() < 1.0  # the unconstrained optimum is feasible
    best = system.plan_return(X0, GOAL, optimum, DISCOUNT)
    idle = system.plan_return(X0, GOAL, torch.zeros_like(optimum), DISCOUNT)
    planner = planner_cls(system, cfg, SafetyConfig())
    result = planner.plan(X0.view(1, -1), GOAL)
    got = system.plan_return(X0, GOAL, planner.mean_plan, DISCOUNT)
    assert result.status == "ok" and result.iterations == cfg.iterations
    assert best - got < 0.03 * (best - idle), (best, got, idle)
    np.testing.assert_allclose(result.action, optimum[0].numpy(), atol=0.15)
    assert result.expected_return == pytest.approx(got, rel=0.1)


def test_gradient_mpc_tracks_a_reference_latent_trajectory():
    system = point_mass()
    ticks, horizon = 25, 10
    t = torch.arange(ticks + horizon, dtype=torch.float32)
    reference_actions = 0.6 * torch.stack([torch.sin(0.3 * t), torch.cos(0.2 * t)], 1)
    reference, x = [], X0.clone()
    for u in reference_actions:
        x = step(system, x, u.numpy())
        reference.append(x)
    reference = torch.stack(reference)
    cfg = GradientMPCConfig(horizon=horizon, iterations=20, learning_rate=0.1, smoothness=0.01)
    planner = GradientMPC(system, cfg, SafetyConfig())
    x, errors, idle_errors, idle = X0.clone(), [], [], X0.clone()
    for k in range(ticks):
        result = planner.plan(x.view(1, -1), reference[k : k + horizon])
        assert result.status == "ok" and result.iterations == cfg.iterations
        x = step(system, x, result.action)
        idle = step(system, idle, np.zeros(2, dtype=np.float32))
        errors.append(float((x[:4] - reference[k, :4]).norm()))
        idle_errors.append(float((idle[:4] - reference[k, :4]).norm()))
    late = slice(ticks // 2, None)
    assert np.mean(errors[late]) < 0.1 * np.mean(idle_errors[late]), (errors, idle_errors)
    assert max(errors[late]) < 0.1


def test_gradient_mpc_reset_forgets_the_warm_start():
    system = point_mass()
    cfg = GradientMPCConfig(horizon=6, iterations=3)
    used, fresh = GradientMPC(system, cfg, SafetyConfig()), GradientMPC(system, cfg, SafetyConfig())
    for _ in range(3):
        used.plan(X0.view(1, -1), GOAL)
    warm = used.plan(X0.view(1, -1), GOAL).action
    used.reset()
    first = fresh.plan(X0.view(1, -1), GOAL).action
    np.testing.assert_array_equal(used.plan(X0.view(1, -1), GOAL).action, first)
    assert not np.allclose(warm, first)


@pytest.mark.parametrize(
    ("planner_cls", "cfg_cls"), [(MPPIPlanner, MPPIConfig), (CEMPlanner, CEMConfig)]
)
def test_warm_start_lowers_closed_loop_cost_at_equal_budget(planner_cls, cfg_cls):
    # Under gravity holding still takes a steady non-zero action: the previous plan knows
    # it, a zero-mean cold start has to find it again with one small iteration every tick.
    system = point_mass(gravity=1.0)

    def episode_cost(warm: bool, seed: int) -> float:
        cfg = sampling_cfg(
            cfg_cls,
            horizon=15,
            iterations=1,
            samples=64,
            elites=8,
            policy_samples=0,
            warm_start=warm,
            max_std=0.5,
            seed=seed,
        )
        planner, x, cost = planner_cls(system, cfg, SafetyConfig()), X0.clone(), 0.0
        for _ in range(30):
            x = step(system, x, planner.plan(x.view(1, -1), GOAL).action)
            cost -= float(system.reward(x.view(1, -1), GOAL)[0])
        return cost

    warm = [episode_cost(True, s) for s in range(3)]
    cold = [episode_cost(False, s) for s in range(3)]
    assert np.mean(warm) < 0.8 * np.mean(cold), (warm, cold)


@pytest.mark.parametrize("kind", ["mppi", "cem", "gradient", "hierarchical"])
def test_a_deadline_in_the_past_returns_at_once_with_status_deadline(kind):
    system = point_mass()
    planner = build_planner(PlannerConfig(kind=kind), system)
    watch = Stopwatch()
    result = planner.plan(X0.view(1, -1), GOAL, deadline=time.monotonic() - 1.0)
    assert result.status == "deadline" and result.iterations == 0 and result.reason
    assert watch.own_seconds() < 0.05, f"took {1e3 * watch.own_seconds():.1f} ms of its own"
    if kind in ("mppi", "cem"):  # the actor prior's action
        prior = system.policy(X0.view(1, -1), GOAL.view(1, -1), False).clamp(-1, 1)[0]
        np.testing.assert_allclose(result.action, prior.numpy(), atol=1e-6)


@pytest.mark.parametrize("kind", ["mppi", "cem", "gradient"])
def test_a_short_deadline_returns_the_best_plan_so_far_in_time(kind):
    system = point_mass()
    cfg = PlannerConfig(kind=kind)
    cfg.mppi.iterations = cfg.cem.iterations = cfg.gradient.iterations = 100_000
    planner = build_planner(cfg, system)
    watch = Stopwatch()
    deadline = watch.start + 0.05
    result = planner.plan(X0.view(1, -1), GOAL, deadline=deadline)
    late = watch.own_lateness(deadline)  # a busy machine's run-queue waits do not count
    assert result.status == "deadline" and "deadline" in result.reason
    assert 1 <= result.iterations < 100_000
    assert late < 0.02, f"returned {1e3 * late:.1f} ms late ({1e3 * watch.waited():.1f} ms queued)"
    assert np.all(np.abs(result.action) <= 1.0)


@pytest.mark.parametrize("kind", ["mppi", "cem"])
def test_the_actors_mode_trajectory_is_a_candidate_and_a_margin_keeps_it(kind):
    system = point_mass()
    cfg = PlannerConfig(kind=kind)
    sampling = getattr(cfg, kind)
    mode = system.policy(X0.view(1, -1), GOAL.view(1, -1), False).clamp(-1, 1)[0].numpy()
    free = build_planner(cfg, system).plan(X0.view(1, -1), GOAL)
    assert np.abs(free.action - mode).max() > 0.05  # the soft PD prior is beaten when free
    sampling.prior_margin = 1e9  # leave the actor only for an impossible predicted gain
    kept = build_planner(cfg, system).plan(X0.view(1, -1), GOAL)
    np.testing.assert_allclose(kept.action, mode, atol=1e-6)
    x, expected = X0.view(1, -1), 0.0
    for t in range(sampling.horizon):  # the mode trajectory's own predicted return
        a = system.policy(x, GOAL.view(1, -1), False).clamp(-1, 1)
        x = system.imagine_step(x, a)
        expected += sampling.discount**t * float(system.reward(x, GOAL.view(1, -1))[0])
    expected += sampling.discount**sampling.horizon * float(system.value(x, GOAL.view(1, -1))[0])
    assert kept.expected_return == pytest.approx(expected, rel=1e-4)


@pytest.mark.parametrize("kind", ["mppi", "cem"])
def test_an_optimal_actor_prior_is_kept_by_the_planner(kind):
    system = point_mass()
    cfg = PlannerConfig(kind=kind)
    sampling = getattr(cfg, kind)
    system.gain = -system.optimal_feedback(GOAL, sampling.horizon, sampling.discount)
    x0 = torch.tensor([0.5, -0.3, 0.0, 0.15, 0.0, 0.0, 1.0])  # optimum inside the bounds
    prior = system.policy(x0.view(1, -1), GOAL.view(1, -1), False)[0].numpy()
    optimum = system.optimal_actions(x0, GOAL, sampling.horizon, sampling.discount)[0].numpy()
    np.testing.assert_allclose(prior, optimum, atol=1e-4)  # the prior is the optimum
    assert np.abs(prior).max() < 1.0
    result = build_planner(cfg, system).plan(x0.view(1, -1), GOAL)
    assert np.abs(result.action - prior).max() < 0.05


def mode_trajectory(system, x0: torch.Tensor, horizon: int) -> torch.Tensor:
    """The actor prior's deterministic plan (horizon, A) from x0."""
    x, actions = x0.view(1, -1), []
    for _ in range(horizon):
        actions.append(system.policy(x, GOAL.view(1, -1), False).clamp(-1, 1))
        x = system.imagine_step(x, actions[-1])
    return torch.cat(actions)


def test_prior_penalty_pulls_the_plan_towards_the_actors_trajectory():
    system = point_mass()

    def distance(penalty: float) -> float:
        cfg = MPPIConfig(horizon=6, iterations=4, samples=256, elites=32, prior_penalty=penalty)
        planner = MPPIPlanner(system, cfg, SafetyConfig())
        planner.plan(X0.view(1, -1), GOAL)
        return float((planner.mean_plan - mode_trajectory(system, X0, 6)).abs().max())

    free, tight = distance(0.0), distance(1000.0)
    assert free > 0.1 and tight < 0.3 * free, (free, tight)


@pytest.mark.parametrize(
    ("planner_cls", "cfg_cls"), [(MPPIPlanner, MPPIConfig), (CEMPlanner, CEMConfig)]
)
def test_best_action_choice_sends_the_best_scored_sample(planner_cls, cfg_cls):
    system = point_mass()
    cfg = sampling_cfg(cfg_cls, horizon=6, iterations=3, samples=256, action_choice="best")
    planner = planner_cls(system, cfg, SafetyConfig())
    result = planner.plan(X0.view(1, -1), GOAL)
    np.testing.assert_array_equal(result.action, planner.mean_plan[0].numpy())
    # a sample, not a mean: its predicted return is the one the planner reports
    sent = system.plan_return(X0, GOAL, planner.mean_plan, DISCOUNT)
    assert result.expected_return == pytest.approx(sent, rel=1e-4)


@pytest.mark.parametrize("kind", ["mppi", "cem"])
def test_one_slow_iteration_does_not_cap_later_plans_at_one_iteration(kind):
    planner = build_planner(PlannerConfig(kind=kind), point_mass())
    planner.plan(X0.view(1, -1), GOAL)
    planner._iter_ms = 400.0  # as if one iteration once took 400 ms (a loaded machine)
    iterations = []
    for _ in range(30):
        result = planner.plan(X0.view(1, -1), GOAL, deadline=time.monotonic() + 0.08)
        iterations.append(result.iterations)
    assert iterations[0] == 1 and iterations[-1] == planner.cfg.iterations, iterations


def test_safe_fallback_triggers_on_high_disagreement_and_not_on_low():
    safety = SafetyConfig(threshold=0.01, safe_action=[0.25, -0.25])
    cfg = sampling_cfg(MPPIConfig, iterations=3, samples=256)
    calm = MPPIPlanner(point_mass(ensemble_spread=1e-3), cfg, safety).plan(X0.view(1, -1), GOAL)
    wild = MPPIPlanner(point_mass(ensemble_spread=0.5), cfg, safety).plan(X0.view(1, -1), GOAL)
    assert calm.status == "ok" and calm.uncertainty < 0.01
    assert not np.allclose(calm.action, [0.25, -0.25])
    assert wild.status == "uncertain" and wild.uncertainty > 0.01
    np.testing.assert_array_equal(wild.action, np.array([0.25, -0.25], dtype=np.float32))
    assert "disagreement" in wild.reason and "threshold" in wild.reason
    grad = GradientMPC(point_mass(ensemble_spread=0.5), GradientMPCConfig(), safety)
    assert grad.plan(X0.view(1, -1), GOAL).status == "uncertain"


def test_disagreement_penalty_steers_plans_towards_agreement():
    system = point_mass(ensemble_spread=0.5)
    cfg = sampling_cfg(MPPIConfig, iterations=6, samples=512)
    plain = MPPIPlanner(system, cfg, SafetyConfig(threshold=100.0))
    careful = MPPIPlanner(system, cfg, SafetyConfig(threshold=100.0, disagreement_penalty=100.0))
    u_plain = plain.plan(X0.view(1, -1), GOAL).uncertainty
    u_careful = careful.plan(X0.view(1, -1), GOAL).uncertainty
    assert u_careful < 0.8 * u_plain, (u_careful, u_plain)


@pytest.mark.parametrize("kind", ["mppi", "cem", "gradient", "hierarchical"])
def test_actions_stay_within_bounds_when_the_goal_is_far(kind):
    system = point_mass()
    far = torch.tensor([50.0, -50.0, 0.0, 0.0, 0.0, 0.0, 1.0])
    planner = build_planner(PlannerConfig(kind=kind), system)
    x = X0.clone()
    for _ in range(5):
        result = planner.plan(x.view(1, -1), far)
        assert result.action.dtype == np.float32 and result.action.shape == (2,)
        assert np.all(result.action >= -1.0) and np.all(result.action <= 1.0)
        if kind != "hierarchical":  # the fast level tracks a subgoal, no goal pressure
            assert np.abs(result.action).max() > 0.9  # it does push against the bound
        x = step(system, x, result.action)


def test_hierarchical_planning_reaches_the_goal():
    system = point_mass()
    goal = torch.tensor([-1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0])
    slow = MPPIPlanner(system, sampling_cfg(MPPIConfig, iterations=6, samples=512), SafetyConfig())
    fast = GradientMPC(system, GradientMPCConfig(horizon=8, iterations=8), SafetyConfig())
    planner = HierarchicalPlanner(slow, fast, HierarchicalConfig(subgoal_every=4))
    x, subgoals = X0.clone(), []
    for _ in range(40):
        result = planner.plan(x.view(1, -1), goal)
        assert result.status == "ok"
        subgoals.append(planner.subgoal.clone())
        x = step(system, x, result.action)
    assert float((x[:2] - goal[:2]).norm()) < 0.1, x
    assert float(x[2:4].norm()) < 0.1
    distinct = {tuple(s.numpy().round(6)) for s in subgoals}
    assert len(distinct) == 10  # a new subgoal every 4 ticks


def test_belief_must_be_a_single_row():
    planner = MPPIPlanner(point_mass(), MPPIConfig(), SafetyConfig())
    with pytest.raises(ValueError, match="single belief"):
        planner.plan(X0.expand(2, -1), GOAL)


def test_presets_load_and_bad_configs_name_the_key():
    seed = load_planner_preset("seed")
    assert (seed.cem.samples, seed.cem.horizon, seed.cem.elites, seed.cem.iterations) == (
        1000,
        15,
        100,
        5,
    )
    assert (seed.mppi.temperature, seed.mppi.max_std, seed.mppi.min_std) == (0.1, 0.5, 0.5)
    assert load_planner_preset("default").kind == "mppi"
    with pytest.raises(ConfigError, match="unknown planner preset"):
        load_planner_preset("fastest")
    with pytest.raises(ConfigError, match=r"mppi: elites \(300\) exceed samples"):
        from_dict(PlannerConfig, {"mppi": {"elites": 300, "samples": 256}})
    with pytest.raises(ConfigError, match="subgoal_every"):
        from_dict(PlannerConfig, {"kind": "hierarchical", "hierarchical": {"subgoal_every": 9}})
    with pytest.raises(ValueError, match="safe_action has 3 values"):
        cfg = from_dict(PlannerConfig, {"safety": {"safe_action": [0, 0, 0]}})
        build_planner(cfg, point_mass())
    with pytest.raises(ValueError, match="no ensemble"):
        system = point_mass()
        system.has_disagreement = False
        build_planner(from_dict(PlannerConfig, {"safety": {"threshold": 1.0}}), system)


def test_the_default_preset_states_only_what_differs_from_the_dataclasses():
    """planning/config.py is the one home of each default: the default preset overrides,
    never restates, so changing a dataclass default changes what the planner node runs."""
    written = yaml.safe_load(
        (Path(planning.__file__).parent / "presets" / "default.yaml").read_text()
    )
    defaults = to_dict(PlannerConfig())

    def restated(prefix: str, values: dict, base: dict) -> list[str]:
        out = []
        for key, value in values.items():
            if isinstance(value, dict):
                out += restated(f"{prefix}{key}.", value, base[key])
            elif value == base[key]:
                out.append(f"{prefix}{key}")
        return out

    assert restated("", written, defaults) == []

    def merged(base: dict, changes: dict) -> dict:
        return {
            k: merged(v, changes.get(k, {})) if isinstance(v, dict) else changes.get(k, v)
            for k, v in base.items()
        }

    assert to_dict(load_planner_preset("default")) == merged(defaults, written)
    assert load_planner_preset("default").mppi.temperature == MPPIConfig().temperature


@pytest.mark.parametrize("kind", ["mppi", "cem"])
def test_a_tick_too_short_for_every_sample_shrinks_the_samples_then_grows_back(kind):
    """On a loaded machine the plan runs fewer samples rather than the prior's action."""
    cfg = PlannerConfig(kind=kind)
    planner = build_planner(cfg, point_mass())
    full = planner.cfg.samples
    planner.plan(X0.view(1, -1), GOAL)
    first_ms = planner._first_ms
    # As if the machine got 4x slower: all samples need 4x the time there is.
    planner._first_ms = 4 * 40.0
    result = planner.plan(X0.view(1, -1), GOAL, deadline=time.monotonic() + 0.04)
    assert result.status == "deadline" and result.iterations >= 1, result.reason
    assert f"of {full} samples" in result.reason and "shrunk to" in result.reason
    shrunk = int(result.reason.split("shrunk to ")[1].split()[0])
    assert planner.min_samples <= shrunk < full
    # Too little time even for min_samples: the actor prior's action.
    planner._first_ms = 1e5
    fallback = planner.plan(X0.view(1, -1), GOAL, deadline=time.monotonic() + 0.01)
    assert fallback.iterations == 0 and "actor prior" in fallback.reason
    # The machine is free again: every sample, no deadline note.
    planner._first_ms = first_ms
    again = planner.plan(X0.view(1, -1), GOAL, deadline=time.monotonic() + 10.0)
    assert again.status == "ok" and planner._samples == full


def test_a_new_goal_is_planned_for_not_the_last_goals_cached_terms():
    """The planner keeps a goal's terms while the goal holds; another goal gets its own."""
    system, cfg = point_mass(), sampling_cfg(MPPIConfig)
    planner = MPPIPlanner(system, cfg, SafetyConfig())
    planner.plan(X0.view(1, -1), GOAL)
    goal = GOAL.clone()
    goal[0] = 0.8  # another position
    planner.reset()
    result = planner.plan(X0.view(1, -1), goal)
    optimum = system.optimal_actions(X0, goal, cfg.horizon, DISCOUNT)
    np.testing.assert_allclose(result.action, optimum[0].numpy(), atol=0.15)
