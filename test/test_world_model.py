"""WorldModel: loss terms, gradients to every part, goal-term caching, batch errors."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from vla_wm_ros.config.model import WorldModelConfig, load_preset
from vla_wm_ros.models.rssm import flatten_time
from vla_wm_ros.models.world_model import WorldModel

pytestmark = pytest.mark.usefixtures("single_thread")

B, T, A, P, G = 2, 4, 3, 5, 8
# Parts the world-model loss trains; actor, critic, dynamics and temporal have their own.
WM_PARTS = ("encoder.", "rssm.", "decoder.", "reward_head.", "continue_head.")


def batch(with_image: bool = True, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    out = {
        "proprio": torch.randn(B, T, P, generator=g),
        "prev_action": torch.rand(B, T, A, generator=g) * 2 - 1,
        "reward": torch.rand(B, T, generator=g),
        "is_first": torch.zeros(B, T, dtype=torch.bool),
        "is_terminal": torch.zeros(B, T, dtype=torch.bool),
        "goal": torch.randn(B, G, generator=g),
    }
    out["is_first"][:, 0] = True
    out["is_terminal"][1, -1] = True
    if with_image:
        out["image"] = torch.randint(0, 256, (B, T, 3, 64, 64), dtype=torch.uint8, generator=g)
    return out


def model(latent: str = "gaussian", backbone: str = "conv", free_nats: float = 1.0) -> WorldModel:
    cfg = load_preset("tiny")
    cfg = dataclasses.replace(
        cfg,
        rssm=dataclasses.replace(cfg.rssm, latent=latent),
        encoder=dataclasses.replace(cfg.encoder, backbone=backbone),
        loss=dataclasses.replace(cfg.loss, free_nats=free_nats),
    )
    torch.manual_seed(0)
    return WorldModel(cfg, action_dim=A, proprio_dim=P, goal_dim=G)


@pytest.mark.parametrize(
    ("latent", "backbone"), [("gaussian", "conv"), ("discrete", "conv"), ("gaussian", "none")]
)
def test_loss_terms_and_gradients_reach_every_world_model_parameter(latent, backbone):
    # Free nats 0: at initialisation the KL can sit under the free bits, and then (by
    # design) the prior gets no gradient; this test is about the wiring.
    wm = model(latent, backbone, free_nats=0.0)
    out = wm.world_model_loss(batch(with_image=backbone != "none"))
    expected = {"proprio", "reward", "cont", "kl", "kl_dyn", "kl_rep", "total"}
    expected |= {"image"} if backbone != "none" else set()
    assert set(out.terms) == expected
    assert all(torch.isfinite(v) for v in out.terms.values())
    assert out.posterior.deter.shape == (B, T, wm.rssm.deter_size)
    out.total.backward()
    for name, p in wm.named_parameters():
        has = p.grad is not None and bool(p.grad.any())
        assert has == name.startswith(WM_PARTS), f"{name}: gradient {has}"


def test_reward_goal_term_is_cached_exactly():
    wm = model()
    feature = torch.randn(1000, wm.rssm.feature_dim)
    goal = torch.randn(G)
    direct = wm.reward(feature, goal)
    cached = wm.reward(feature, goal_term=wm.reward_head.goal_term(goal))
    torch.testing.assert_close(cached, direct, rtol=0, atol=0)
    torch.testing.assert_close(
        wm.critic(feature, goal_term=wm.critic.goal_term(goal)), wm.critic(feature, goal)
    )
    dist = wm.actor(feature, goal_term=wm.actor.goal_term(goal))
    assert dist.mode.shape == (1000, A) and dist.mode.abs().max() < 1


def test_actor_critic_from_world_model_posterior():
    wm = model()
    data = batch()
    out = wm.world_model_loss(data)
    start = flatten_time(out.posterior)
    goals = data["goal"].repeat_interleave(T, dim=0)
    actor_loss, critic_loss, _ = wm.actor_critic_loss(start, goals)
    assert torch.isfinite(actor_loss) and torch.isfinite(critic_loss)


def test_disagreement_needs_an_ensemble():
    wm = model()
    feature, action = torch.randn(7, wm.rssm.feature_dim), torch.rand(7, A)
    assert wm.disagreement(feature, action).shape == (7,)
    cfg = dataclasses.replace(wm.cfg, dynamics=dataclasses.replace(wm.cfg.dynamics, kind="flow"))
    with pytest.raises(RuntimeError, match=r"dynamics\.kind is 'flow', not 'ensemble'"):
        WorldModel(cfg).disagreement(feature, action)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda b: b.pop("prev_action"), "missing key 'prev_action'"),
        (lambda b: b.pop("goal"), "missing key 'goal'"),
        (lambda b: b.update(proprio=torch.zeros(B, T, P + 1)), r"batch\['proprio'\]: expected"),
        (lambda b: b.update(reward=torch.zeros(B, T + 1)), r"batch\['reward'\]: batch/time"),
        (lambda b: b.update(goal=torch.zeros(B, G + 2)), r"batch\['goal'\]: last dim"),
    ],
)
def test_bad_batches_name_the_key(edit, message):
    data = batch()
    edit(data)
    with pytest.raises((KeyError, ValueError), match=message):
        model().world_model_loss(data)


def test_free_bits_floor_the_kl_terms():
    out = model(free_nats=1.0).world_model_loss(batch())
    assert out.terms["kl_dyn"] >= 1.0 and out.terms["kl_rep"] >= 1.0


def test_dims_from_arguments_are_stored_in_the_config():
    wm = WorldModel(WorldModelConfig(), action_dim=2, proprio_dim=3, goal_dim=4)
    assert (wm.cfg.action_dim, wm.cfg.proprio_dim, wm.cfg.goal_dim) == (2, 3, 4)
    assert wm.action_dim == 2
