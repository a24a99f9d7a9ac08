"""Actor-critic in imagination: lambda-returns, return normalisation, gradients, target."""

from __future__ import annotations

import pytest
import torch

from vla_wm_ros.config.model import load_preset
from vla_wm_ros.models.actor_critic import ReturnNormalizer, imagine_rollout, lambda_returns
from vla_wm_ros.models.distributions import TanhNormal
from vla_wm_ros.models.rssm import RSSMState
from vla_wm_ros.models.world_model import WorldModel

pytestmark = pytest.mark.usefixtures("single_thread")


def test_lambda_returns_by_hand():
    rewards = torch.tensor([[1.0, 2.0]])
    continues = torch.tensor([[1.0, 0.5]])
    values = torch.tensor([[0.5, 1.0, 3.0]])
    # R_2 = v_2 = 3
    # R_1 = 2 + 0.9 * 0.5 * (0.2 * 3.0 + 0.8 * 3.0) = 3.35
    # R_0 = 1 + 0.9 * 1.0 * (0.2 * 1.0 + 0.8 * 3.35) = 3.592
    returns = lambda_returns(rewards, values, continues, gamma=0.9, lam=0.8)
    torch.testing.assert_close(returns, torch.tensor([[3.592, 3.35]]))


def test_lambda_one_is_monte_carlo_and_zero_is_td():
    rewards, continues = torch.rand(4, 5), torch.ones(4, 5)
    values = torch.rand(4, 6)
    mc = lambda_returns(rewards, values, continues, gamma=1.0, lam=1.0)
    torch.testing.assert_close(mc[:, 0], rewards.sum(1) + values[:, 5])
    td = lambda_returns(rewards, values, continues, gamma=0.9, lam=0.0)
    torch.testing.assert_close(td, rewards + 0.9 * values[:, 1:])


def test_return_normalizer_percentile_range_ema():
    norm = ReturnNormalizer(decay=0.99, low=5.0, high=95.0)
    wide = torch.linspace(0, 100, 1001)  # 5th..95th percentile: 5..95 -> range 90
    assert norm.update(wide).item() == pytest.approx(90.0)
    narrow = torch.linspace(0, 10, 1001)  # range 9
    assert norm.update(narrow).item() == pytest.approx(0.99 * 90 + 0.01 * 9)
    small = ReturnNormalizer(0.99, 5.0, 95.0)
    assert small.update(torch.linspace(0, 0.5, 11)).item() == 1.0  # never scales up


def test_tanh_normal_log_prob_mean_and_bounds():
    loc, std = torch.randn(3, 2), torch.rand(3, 2) + 0.2
    dist = TanhNormal(loc, std)
    reference = torch.distributions.TransformedDistribution(
        torch.distributions.Normal(loc, std), [torch.distributions.TanhTransform()]
    )
    action = dist.rsample()
    assert action.abs().max() < 1
    torch.testing.assert_close(dist.log_prob(action), reference.log_prob(action).sum(-1))
    torch.manual_seed(0)
    mc = torch.tanh(loc + std * torch.randn(200_000, 3, 2)).mean(0)
    torch.testing.assert_close(dist.mean, mc, atol=5e-3, rtol=0)
    torch.testing.assert_close(dist.mode, torch.tanh(loc))


def _model():
    torch.manual_seed(0)
    return WorldModel(load_preset("tiny"), action_dim=3, proprio_dim=4, goal_dim=8)


def _start(model, n=6):
    g = torch.Generator().manual_seed(3)
    return RSSMState(
        torch.randn(n, model.rssm.deter_size, generator=g),
        torch.randn(n, model.rssm.stoch_size, generator=g),
    )


def test_rollout_shapes_and_goal_broadcast():
    model = _model()
    goal = torch.randn(8)
    imag = imagine_rollout(model, _start(model), goal, horizon=4)
    assert imag.features.shape == (6, 5, model.rssm.feature_dim)
    assert imag.actions.shape == (6, 4, 3) and imag.rewards.shape == (6, 4)
    assert ((imag.continues > 0) & (imag.continues < 1)).all()
    # One goal for all rows == the same goal repeated per row.
    per_row = model.reward(imag.features[:, 1:], goal.expand(6, 8))
    torch.testing.assert_close(imag.rewards, per_row)


def test_actor_and_critic_losses_reach_only_their_parameters():
    model = _model()
    flags = {n: p.requires_grad for n, p in model.named_parameters()}
    actor_loss, critic_loss, terms = model.actor_critic_loss(_start(model), torch.randn(8))
    assert {n: p.requires_grad for n, p in model.named_parameters()} == flags  # restored
    actor_loss.backward()
    for name, p in model.named_parameters():
        has = p.grad is not None and bool(p.grad.any())
        assert has == name.startswith("actor."), f"actor loss and {name}: grad {has}"
    model.zero_grad(set_to_none=True)
    critic_loss.backward()
    for name, p in model.named_parameters():
        has = p.grad is not None and bool(p.grad.any())
        assert has == name.startswith("critic."), f"critic loss and {name}: grad {has}"
    assert {"actor", "critic", "return_mean", "return_scale", "entropy"} <= set(terms)


def test_actor_gradient_flows_through_the_imagined_dynamics():
    """With no entropy bonus the actor learns only from returns of imagined states: the
    gradient exists because it is backpropagated through the RSSM and the reward head."""
    model = _model()
    model.cfg.actor_critic.entropy_scale = 0.0
    actor_loss, _, _ = model.actor_critic_loss(_start(model), torch.randn(8))
    actor_loss.backward()
    assert all(p.grad is not None and p.grad.any() for p in model.actor.parameters())


def test_soft_target_update():
    model = _model()
    with torch.no_grad():
        for p in model.critic.parameters():
            p.add_(1.0)
    before = [p.clone() for p in model.target_critic.parameters()]
    model.update_target(0.25)
    for old, new, src in zip(
        before, model.target_critic.parameters(), model.critic.parameters(), strict=True
    ):
        torch.testing.assert_close(new, 0.75 * old + 0.25 * src)
    assert not any(p.requires_grad for p in model.target_critic.parameters())
