"""RSSM: shapes, time order (prior == imagine_step), resets, latents, KL with free bits."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from vla_wm_ros.config.model import RSSMConfig
from vla_wm_ros.models.kl import kl_balance
from vla_wm_ros.models.latent import DiscreteLatent, GaussianLatent
from vla_wm_ros.models.rssm import RSSM, RSSMState, state_at

pytestmark = pytest.mark.usefixtures("single_thread")

B, T, A, E = 3, 6, 2, 10


def make(latent: str = "gaussian", **kw) -> RSSM:
    torch.manual_seed(0)
    cfg = RSSMConfig(latent=latent, deter=16, stoch=4, categories=3, classes=5, hidden=24, **kw)
    return RSSM(cfg, A, E)


def inputs(seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    embeds = torch.randn(B, T, E, generator=g)
    actions = torch.rand(B, T, A, generator=g) * 2 - 1
    first = torch.zeros(B, T, dtype=torch.bool)
    first[:, 0] = True
    return embeds, actions, first


@pytest.mark.parametrize("latent", ["gaussian", "discrete"])
@pytest.mark.parametrize("gru_layers", [1, 2])
def test_observe_shapes(latent, gru_layers):
    rssm = make(latent, gru_layers=gru_layers)
    out = rssm.observe(*inputs())
    stoch = 4 if latent == "gaussian" else 15
    assert out.posterior.deter.shape == (B, T, 16 * gru_layers)
    assert out.posterior.stoch.shape == (B, T, stoch)
    assert out.prior.stoch.shape == (B, T, stoch)
    assert rssm.feature(out.posterior).shape == (B, T, 16 * gru_layers + stoch)
    assert set(out.post_stats) == ({"mean", "std"} if latent == "gaussian" else {"logits"})


@pytest.mark.parametrize("latent", ["gaussian", "discrete"])
def test_filter_prior_equals_imagine_step(latent):
    rssm = make(latent)
    embeds, actions, first = inputs()
    out = rssm.observe(embeds, actions, first, sample=False)
    for t in range(1, T):
        prev = state_at(out.posterior, t - 1)
        imagined = rssm.imagine_step(prev, actions[:, t], sample=False)
        torch.testing.assert_close(imagined.deter, out.prior.deter[:, t], rtol=0, atol=0)
        torch.testing.assert_close(imagined.stoch, out.prior.stoch[:, t], rtol=0, atol=0)
        # The posterior shares h_t with the prior: same deterministic state, PlaNet order.
        torch.testing.assert_close(out.posterior.deter[:, t], out.prior.deter[:, t])
    # Sampled too: the filter draws the prior first, so the same seed gives the same draw.
    prev = state_at(out.posterior, 2)
    torch.manual_seed(5)
    _, prior, _, _ = rssm.obs_step(prev, actions[:, 3], embeds[:, 3])
    torch.manual_seed(5)
    imagined = rssm.imagine_step(prev, actions[:, 3])
    torch.testing.assert_close(imagined.stoch, prior.stoch, rtol=0, atol=0)


def test_is_first_resets_state_inside_observe():
    rssm = make()
    embeds, actions, first = inputs()
    first[:, 3] = True
    whole = rssm.observe(embeds, actions, first, sample=False)
    fresh = rssm.observe(embeds[:, 3:], actions[:, 3:], first[:, 3:], sample=False)
    torch.testing.assert_close(whole.posterior.deter[:, 3:], fresh.posterior.deter)
    torch.testing.assert_close(whole.posterior.stoch[:, 3:], fresh.posterior.stoch)
    # ...and the history before the reset did matter without it.
    first[:, 3] = False
    carried = rssm.observe(embeds, actions, first, sample=False)
    assert not torch.allclose(carried.posterior.deter[:, 3], fresh.posterior.deter[:, 0])


def test_imagine_step_serves_thousands_of_expanded_states():
    rssm = make()
    one = RSSMState(torch.randn(1, 16), torch.randn(1, 4))
    many = RSSMState(one.deter.expand(2000, -1), one.stoch.expand(2000, -1))
    with torch.no_grad():
        nxt = rssm.imagine_step(many, torch.zeros(2000, A), sample=False)
        single = rssm.imagine_step(one, torch.zeros(1, A), sample=False)
    assert nxt.deter.shape == (2000, 16)
    torch.testing.assert_close(nxt.deter, single.deter.expand(2000, -1))


def test_discrete_latent_one_hot_unimix_and_straight_through():
    latent = DiscreteLatent(categories=3, classes=5, unimix=0.01)
    raw = torch.randn(4, 15, requires_grad=True)
    stats = latent.stats(raw)
    probs = stats["logits"].exp()
    assert probs.min() >= 0.01 / 5 - 1e-7
    torch.testing.assert_close(probs.sum(-1), torch.ones(4, 3))
    sample = latent.sample(stats)
    per_category = sample.detach().view(4, 3, 5)
    # One-hot up to float rounding of the straight-through term (probs - probs.detach()).
    torch.testing.assert_close(per_category, per_category.round(), rtol=0, atol=1e-6)
    torch.testing.assert_close(per_category.sum(-1), torch.ones(4, 3))
    (sample * torch.randn(4, 15)).sum().backward()
    assert raw.grad is not None and raw.grad.abs().sum() > 0


def test_discrete_kl_sums_classes_and_categories_by_hand():
    latent = DiscreteLatent(categories=2, classes=2, unimix=0.0)
    p = {"logits": torch.tensor([[[0.5, 0.5], [0.9, 0.1]]]).log()}
    q = {"logits": torch.tensor([[[0.25, 0.75], [0.5, 0.5]]]).log()}
    # category 1: 0.5 ln(0.5/0.25) + 0.5 ln(0.5/0.75) = 0.143841
    # category 2: 0.9 ln(0.9/0.5) + 0.1 ln(0.1/0.5) = 0.368064
    torch.testing.assert_close(latent.kl(p, q), torch.tensor([0.143841 + 0.368064]))


def test_gaussian_kl_matches_torch():
    latent = GaussianLatent(3, 0.1, 2.0)
    p = {"mean": torch.randn(5, 3), "std": torch.rand(5, 3) + 0.2}
    q = {"mean": torch.randn(5, 3), "std": torch.rand(5, 3) + 0.2}
    expected = torch.distributions.kl_divergence(
        torch.distributions.Normal(p["mean"], p["std"]),
        torch.distributions.Normal(q["mean"], q["std"]),
    ).sum(-1)
    torch.testing.assert_close(latent.kl(p, q), expected)


def _one_dim_stats(deltas: list[float]):
    """1-D unit-std Gaussians whose per-step KL is delta^2 / 2."""
    post_mean = torch.tensor(deltas).view(1, -1, 1).requires_grad_(True)
    prior_mean = torch.zeros(1, len(deltas), 1, requires_grad=True)
    ones = torch.ones(1, len(deltas), 1)
    return (
        post_mean,
        prior_mean,
        {"mean": post_mean, "std": ones},
        {"mean": prior_mean, "std": ones},
    )


def test_free_bits_clip_each_step_then_average():
    latent = GaussianLatent(1, 0.1, 2.0)
    # Per-step KLs 0.5 and 2.0; free nats 1.0 -> mean(max(kl, 1)) = (1.0 + 2.0) / 2 = 1.5.
    # (Clamping the mean instead would give max(1.25, 1) = 1.25.)
    post_mean, prior_mean, post, prior = _one_dim_stats([1.0, 2.0])
    loss, terms = kl_balance(latent, post, prior, dyn_scale=1.0, rep_scale=0.1, free_nats=1.0)
    assert terms["kl"].item() == pytest.approx(1.25)
    assert terms["kl_dyn"].item() == pytest.approx(1.5)
    assert terms["kl_rep"].item() == pytest.approx(1.5)
    assert loss.item() == pytest.approx(1.0 * 1.5 + 0.1 * 1.5)
    loss.backward()
    # Step 0 is under the free nats: no gradient. Step 1 (delta 2): d/dmu (mu^2/2)/2 steps = 1.
    assert post_mean.grad.flatten().tolist() == pytest.approx([0.0, 0.1 * 2.0 / 2])
    assert prior_mean.grad.flatten().tolist() == pytest.approx([0.0, -1.0 * 2.0 / 2])


def test_balancing_sends_dyn_to_prior_and_rep_to_posterior():
    latent = GaussianLatent(1, 0.1, 2.0)
    post_mean, prior_mean, post, prior = _one_dim_stats([2.0, 3.0])
    kl_balance(latent, post, prior, dyn_scale=1.0, rep_scale=0.0, free_nats=0.0)[0].backward()
    assert post_mean.grad.abs().sum() == 0 and prior_mean.grad.abs().sum() > 0
    post_mean, prior_mean, post, prior = _one_dim_stats([2.0, 3.0])
    kl_balance(latent, post, prior, dyn_scale=0.0, rep_scale=1.0, free_nats=0.0)[0].backward()
    assert prior_mean.grad.abs().sum() == 0 and post_mean.grad.abs().sum() > 0


def test_gradients_reach_every_rssm_parameter():
    for latent in ("gaussian", "discrete"):
        rssm = make(latent, gru_layers=2)
        out = rssm.observe(*inputs())
        loss, _ = kl_balance(rssm.latent, out.post_stats, out.prior_stats, 1.0, 0.1, 0.0)
        (loss + rssm.feature(out.posterior).pow(2).mean()).backward()
        silent = [n for n, p in rssm.named_parameters() if p.grad is None or not p.grad.any()]
        assert not silent, f"{latent}: no gradient for {silent}"


def test_config_min_std_bounds_gaussian_std():
    rssm = make(min_std=0.3, max_std=0.5)
    out = rssm.observe(*inputs())
    std = out.post_stats["std"]
    assert std.min() >= 0.3 and std.max() <= 0.5
    assert dataclasses.asdict(rssm.cfg)["min_std"] == 0.3
