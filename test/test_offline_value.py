"""The offline value (Q ensemble + V by IQL) and the planner score that uses it.

- On a small recorded world with a known return (a colour that the action moves towards
  a rewarded band), `train_value` on a tiny world model's filtered posteriors learns a V
  that ranks held-out returns-to-go and Q heads that prefer the action that earns reward.
- A run resumed from its training state ends with the same weights as one straight run;
  resuming under a changed config (beyond steps and report intervals) is refused by name.
- `reward_weight` refits the world model's reward head on the same transitions: its
  held-out error falls, nothing else of the world model moves, and resuming it is exact.
- The written checkpoint loads, the planning adapter reads its V and Q spread, and ONNX
  Runtime and TorchScript reproduce the new units (test_deploy covers every backend).
- On the linear-quadratic point mass: the Q-spread penalty pulls plans towards the
  actor prior, and value_weight 0 drops the terminal value from the score.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from graph_fixtures import make_tiny_checkpoint
from linear_system import point_mass

from vla_wm_ros.config import ConfigError, from_dict
from vla_wm_ros.config.value import ValueConfig
from vla_wm_ros.data.episode import Episode
from vla_wm_ros.data.spec import DatasetSpec
from vla_wm_ros.data.writer import DatasetWriter
from vla_wm_ros.models.checkpoint import load_checkpoint
from vla_wm_ros.planning import MPPIConfig, MPPIPlanner, SafetyConfig
from vla_wm_ros.planning.world_model_adapter import WorldModelPlanningModel
from vla_wm_ros.training.value import ValueRunConfig, ValueTrainConfig, train_value

pytestmark = pytest.mark.usefixtures("single_thread")
GOAL_DIM = 384


def embed(names: list[str]) -> np.ndarray:
    """A fixed embedding per instruction (the tests need no sentence encoder)."""
    return np.stack(
        [np.random.default_rng(len(n)).standard_normal(GOAL_DIM).astype(np.float32) for n in names]
    )


def _band_world(root, episodes: int, steps: int, seed: int) -> None:
    """Colour x in [0, 1] moved by 0.15 * a[0]; reward 1 for arriving in x > 0.7.
    Behaviour: a[0] = +-1 at random, biased to the band in half the episodes."""
    rng = np.random.default_rng(seed)
    spec = DatasetSpec(
        fps=10.0,
        image_shape=(64, 64, 3),
        state_names=["x", "z1", "z2", "z3"],
        action_names=["dx", "u1", "u2", "u3"],
        action_low=[-1.0] * 4,
        action_high=[1.0] * 4,
        source="test-band-world",
    )
    with DatasetWriter(root, spec) as writer:
        for n in range(episodes):
            x = rng.uniform(0.0, 0.5)
            p_up = 0.8 if n % 2 else 0.4
            xs, actions, rewards = [], [], []
            for _ in range(steps):
                xs.append(x)
                a = np.zeros(4, np.float32)
                a[0] = 1.0 if rng.random() < p_up else -1.0
                x = float(np.clip(x + 0.15 * a[0], 0.0, 1.0))
                actions.append(a)
                rewards.append(1.0 if x > 0.7 else 0.0)
            xs_arr = np.asarray(xs, np.float32)
            grey = (xs_arr * 255).round().astype(np.uint8)
            images = np.broadcast_to(grey[:, None, None, None], (steps, 64, 64, 3))
            writer.add(
                Episode(
                    images=np.ascontiguousarray(images),
                    state=np.stack([xs_arr, *[np.zeros(steps, np.float32)] * 3], 1),
                    action=np.stack(actions),
                    reward=np.asarray(rewards, np.float32),
                    success=np.asarray(rewards, bool),
                    done=np.arange(steps) == steps - 1,
                    terminated=np.zeros(steps, bool),
                    timestamp=(np.arange(steps) / 10.0).astype(np.float32),
                    instruction="reach the bright band",
                    task="band",
                    policy="random",
                )
            )


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("value")
    _band_world(root / "data", episodes=24, steps=30, seed=0)
    return root / "data", make_tiny_checkpoint(root / "ckpt")


def run_config(steps: int) -> ValueRunConfig:
    return ValueRunConfig(
        value=ValueConfig(heads=4, hidden=32, gamma=0.9, value_scale=5.0, target_tau=0.05),
        train=ValueTrainConfig(
            steps=steps, batch_size=128, lr=3e-3, val_fraction=0.25, eval_every=100,
            save_every=100,
        ),
    )  # fmt: skip


@pytest.fixture(scope="module")
def trained(world, tmp_path_factory):
    data, ckpt = world
    out = tmp_path_factory.mktemp("value_run") / "run"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # module fixtures run before the single_thread fixture
    try:
        report = train_value(ckpt, data, out, run_config(600), embed, progress=False)
    finally:
        torch.set_num_threads(threads)
    return out, report


def test_value_ranks_held_out_returns_and_q_prefers_the_rewarded_action(trained):
    out, report = trained
    assert report["steps"] == 600 and report["val_transitions"] > 0
    val = report["val"]
    assert val["v_return_corr"] > 0.6, val
    wm = load_checkpoint(out / "model")
    from vla_wm_ros.training.value_data import load_transitions

    rows = load_transitions(out / "value_transitions.safetensors")
    near = rows.feature[(rows.reward == 0) & (rows.step > 3)][:200]  # below the band
    goal = rows.goals[0]
    up = torch.zeros(len(near), 4)
    up[:, 0] = 1.0
    with torch.no_grad():
        terms = wm.offline_value.q.goal_term(goal)
        q_up = wm.offline_value.q_values(near, up, terms).mean(0)
        q_down = wm.offline_value.q_values(near, -up, terms).mean(0)
    assert float((q_up > q_down).float().mean()) > 0.7


def test_resumed_run_ends_with_the_weights_of_a_straight_run(world, tmp_path):
    data, ckpt = world
    train_value(ckpt, data, tmp_path / "a", run_config(100), embed, progress=False)
    train_value(ckpt, data, tmp_path / "a", run_config(200), embed, resume=True, progress=False)
    train_value(ckpt, data, tmp_path / "b", run_config(200), embed, progress=False)
    a = load_checkpoint(tmp_path / "a" / "model").offline_value.state_dict()
    b = load_checkpoint(tmp_path / "b" / "model").offline_value.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(FileExistsError, match="holds a value run"):
        train_value(ckpt, data, tmp_path / "b", run_config(200), embed, progress=False)
    with pytest.raises(FileNotFoundError, match="no training state"):
        train_value(ckpt, data, tmp_path / "c", run_config(200), embed, resume=True)
    changed = run_config(300)
    changed.train.reward_weight = 1.0  # would add the reward head to a state saved without it
    with pytest.raises(ConfigError, match=r"train.reward_weight: 0.0 -> 1.0"):
        train_value(ckpt, data, tmp_path / "a", changed, embed, resume=True, progress=False)


def test_reward_refit_lowers_the_held_out_reward_error_and_moves_only_that_head(world, tmp_path):
    data, ckpt = world

    def refit(steps: int) -> ValueRunConfig:
        run = run_config(steps)
        run.train.reward_weight = 1.0
        return run

    kept = train_value(ckpt, data, tmp_path / "kept", run_config(200), embed, progress=False)
    fitted = train_value(ckpt, data, tmp_path / "fit", refit(200), embed, progress=False)
    before, after = kept["val"]["reward_mse"], fitted["val"]["reward_mse"]
    assert after < 0.5 * before, (before, after)
    original = load_checkpoint(ckpt).state_dict()  # no offline value: the rest of the model

    def moved(out) -> list[str]:
        new = load_checkpoint(out / "model").state_dict()
        return [k for k in original if not torch.equal(original[k], new[k])]

    assert moved(tmp_path / "kept") == []
    refitted = moved(tmp_path / "fit")
    assert refitted and all(k.startswith("reward_head.") for k in refitted), refitted[:3]
    train_value(ckpt, data, tmp_path / "resumed", refit(100), embed, progress=False)
    train_value(ckpt, data, tmp_path / "resumed", refit(200), embed, resume=True, progress=False)
    a = load_checkpoint(tmp_path / "resumed" / "model").state_dict()
    b = load_checkpoint(tmp_path / "fit" / "model").state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(ConfigError, match="reward_weight"):
        ValueTrainConfig(reward_weight=-1.0).validate()


def test_checkpoint_feeds_the_planner_and_every_backend_reproduces_its_units(trained, tmp_path):
    from vla_wm_ros.deploy.backends import available_backends
    from vla_wm_ros.deploy.deployed import TOLERANCE, deploy
    from vla_wm_ros.deploy.units import unit_specs

    out, _ = trained
    wm = load_checkpoint(out / "model")
    assert wm.cfg.value.heads == 4
    eager = WorldModelPlanningModel(wm)
    goal = torch.randn(GOAL_DIM, generator=torch.Generator().manual_seed(1))
    context = eager.goal_context(goal)
    feature = torch.randn(7, wm.rssm.feature_dim)
    action = torch.rand(7, wm.action_dim) * 2 - 1
    with torch.no_grad():
        v = eager.value(feature, context)
        spread = eager.q_spread(feature, action, context)
        heads = wm.offline_value.q_values(feature, action, wm.offline_value.q.goal_term(goal))
    torch.testing.assert_close(v, wm.offline_value.value(feature, goal[None].expand(7, -1)))
    torch.testing.assert_close(spread, heads.std(dim=0))
    assert {s.name for s in unit_specs(wm)} >= {"value", "q_spread"}
    rtol, atol = TOLERANCE["fp32"]
    for backend in [b for b in ("onnxruntime", "torchscript") if b in available_backends("cpu")]:
        deployed = deploy(wm, out / "model", backend, cache_root=tmp_path / backend)
        assert set(deployed.parity) >= {"value", "q_spread"}
        compiled = WorldModelPlanningModel(wm, units=deployed)
        with torch.no_grad():
            torch.testing.assert_close(compiled.value(feature, context), v, rtol=rtol, atol=atol)
            torch.testing.assert_close(
                compiled.q_spread(feature, action, context), spread, rtol=rtol, atol=atol
            )
    planner = MPPIPlanner(
        eager, MPPIConfig(horizon=3, iterations=2, samples=64, elites=8, uncertainty_penalty=1.0),
        SafetyConfig(),
    )  # fmt: skip
    result = planner.plan(feature[:1], goal)
    assert result.status == "ok" and np.isfinite(result.expected_return)


def test_a_checkpoint_without_offline_value_plans_without_the_penalty_on_its_critic(world):
    _, ckpt = world
    wm = load_checkpoint(ckpt)
    assert wm.offline_value is None and wm.cfg.value.heads == 0
    model = WorldModelPlanningModel(wm)
    planner = MPPIPlanner(model, MPPIConfig(uncertainty_penalty=1.0), SafetyConfig())
    assert not planner.uses_q_penalty
    with pytest.raises(RuntimeError, match="no offline value"):
        model.q_spread(torch.zeros(1, wm.rssm.feature_dim), torch.zeros(1, 4), None)
    goal = torch.zeros(GOAL_DIM)
    feature = torch.randn(3, wm.rssm.feature_dim)
    with torch.no_grad():
        torch.testing.assert_close(
            model.value(feature, model.goal_context(goal)), wm.critic(feature, goal)
        )


def test_value_config_refuses_what_cannot_train():
    with pytest.raises(ConfigError, match="heads"):
        from_dict(ValueConfig, {"heads": 1})
    with pytest.raises(ConfigError, match="expectile"):
        from_dict(ValueConfig, {"heads": 5, "expectile": 0.3})
    with pytest.raises(ConfigError, match=r"value\.heads"):
        dataclasses.replace(ValueRunConfig(), value=ValueConfig(heads=0)).validate()


X0 = torch.tensor([1.0, -0.6, 0.0, 0.3, 0.0, 0.0, 1.0])
GOAL = torch.tensor([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0])


def _plan(system, **overrides) -> torch.Tensor:
    """The mean plan (6, A) from X0."""
    cfg = MPPIConfig(horizon=6, iterations=4, samples=256, elites=32, **overrides)
    planner = MPPIPlanner(system, cfg, SafetyConfig())
    planner.plan(X0.view(1, -1), GOAL)
    return planner.mean_plan.clone()


def _prior_trajectory(system) -> torch.Tensor:
    x, actions = X0.view(1, -1), []
    for _ in range(6):
        actions.append(system.policy(x, GOAL.view(1, -1), False).clamp(-1, 1))
        x = system.imagine_step(x, actions[-1])
    return torch.cat(actions)


def test_q_spread_penalty_pulls_the_plan_towards_the_prior():
    system = point_mass(q_spread_scale=1.0)
    prior = _prior_trajectory(system)
    free = float((_plan(system) - prior).abs().max())
    tight = float((_plan(system, uncertainty_penalty=100.0) - prior).abs().max())
    assert free > 0.1 and tight < 0.3 * free, (free, tight)


@pytest.mark.parametrize("weight", [1.0, 0.5, 0.0])
def test_value_weight_scales_the_terminal_value_in_the_score(weight):
    system = point_mass(terminal_weight=50.0)
    cfg = MPPIConfig(
        horizon=6, iterations=3, samples=256, elites=32, action_choice="best", value_weight=weight
    )
    planner = MPPIPlanner(system, cfg, SafetyConfig())
    result = planner.plan(X0.view(1, -1), GOAL)
    plan = planner.mean_plan
    x = X0.view(1, -1)
    for t in range(6):
        x = system.imagine_step(x, plan[t : t + 1])
    terminal = 0.99**6 * float(system.value(x, GOAL.view(1, -1))[0])
    full = system.plan_return(X0, GOAL, plan, 0.99)
    assert result.expected_return == pytest.approx(full - (1 - weight) * terminal, rel=1e-4)


def test_uncertainty_margin_keeps_the_prior_unless_the_gain_beats_the_doubt():
    prior = _prior_trajectory(point_mass())
    doubtful = _plan(point_mass(q_spread_scale=100.0), uncertainty_margin=1.0)
    torch.testing.assert_close(doubtful, prior)  # a large spread: the actor's plan is sent
    sure = _plan(point_mass(q_spread_scale=1e-6), uncertainty_margin=1.0)
    assert float((sure - prior).abs().max()) > 0.1  # no doubt: the planner's own plan
    free = _plan(point_mass(q_spread_scale=100.0))
    assert torch.equal(free, _plan(point_mass(q_spread_scale=100.0), uncertainty_margin=None))
    assert float((free - prior).abs().max()) > 0.1
