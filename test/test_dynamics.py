"""Stage-3 latent dynamics: every kind, batched ensemble, exact flow log-probability."""

from __future__ import annotations

import math

import pytest
import torch

from vla_wm_ros.config.model import DynamicsConfig
from vla_wm_ros.models.dynamics.factory import KINDS, build_dynamics

pytestmark = pytest.mark.usefixtures("single_thread")

S, A, N = 6, 2, 32


def make(kind: str, **kw):
    torch.manual_seed(0)
    cfg = DynamicsConfig(kind=kind, hidden=24, layers=2, ensemble_size=4, flow_blocks=4, **kw)
    return build_dynamics(cfg, S, A)


def data(seed=1):
    g = torch.Generator().manual_seed(seed)
    return (
        torch.randn(N, S, generator=g),
        torch.randn(N, A, generator=g),
        torch.randn(N, S, generator=g),
    )


def test_none_builds_nothing():
    assert build_dynamics(DynamicsConfig(kind="none"), S, A) is None


@pytest.mark.parametrize("kind", list(KINDS))
def test_shapes_gradients_and_learning(kind):
    model = make(kind)
    state, action, nxt = data()
    out = model(state, action)
    assert out["sample"].shape == (N, S) and out["mean"].shape == (N, S)
    loss = model.loss(state, action, nxt)
    loss.backward()
    silent = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.any()]
    assert not silent, f"{kind}: no gradient for {silent}"
    # A few optimiser steps on a fixed batch lower the loss (it is a real objective).
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    first = loss.item()
    for _ in range(30):
        opt.zero_grad()
        model.loss(state, action, nxt).backward()
        opt.step()
    assert model.loss(state, action, nxt).item() < first


def test_ensemble_is_batched_and_equals_each_member():
    model = make("ensemble")
    state, action, _ = data()
    preds = model.predictions(state, action)
    assert preds.shape == (4, N, S)
    x = torch.cat([state, action], -1)
    for member in range(4):
        h = x
        for layer in model.net:
            h = (
                h @ layer.weight[member] + layer.bias[member]
                if hasattr(layer, "weight")
                else layer(h)
            )
        torch.testing.assert_close(preds[member], state + h)
    out = model(state, action)
    torch.testing.assert_close(out["uncertainty"], preds.std(0).mean(-1))
    torch.testing.assert_close(model.disagreement(state, action), out["uncertainty"])


def test_ensemble_disagreement_vanishes_when_members_agree():
    model = make("ensemble")
    with torch.no_grad():
        for layer in model.net:
            if hasattr(layer, "weight"):
                layer.weight.copy_(layer.weight[:1].expand_as(layer.weight))
                layer.bias.copy_(layer.bias[:1].expand_as(layer.bias))
    state, action, _ = data()
    assert model.disagreement(state, action).abs().max() < 1e-6


def test_ensemble_bootstrap_mask_selects_rows():
    model = make("ensemble")
    state, action, nxt = data()
    mask = torch.zeros(4, N)
    mask[:, :5] = 1
    expected = model.loss(state[:5], action[:5], nxt[:5])
    torch.testing.assert_close(model.loss(state, action, nxt, member_mask=mask), expected)


def test_flow_inverts_and_log_prob_is_exact():
    model = make("flow")
    with torch.no_grad():  # make the couplings far from the identity
        for coupling in model.couplings:
            coupling.net[-1].weight.normal_(std=0.3)
    state, action, nxt = data()
    cond = torch.cat([state, action], -1)
    delta = nxt - state
    z, log_det = model._to_base(delta, cond)
    torch.testing.assert_close(model._from_base(z, cond), delta, atol=1e-5, rtol=1e-5)
    # log|det J| from autograd's Jacobian of the data->base map, row by row.
    for i in range(3):
        jac = torch.autograd.functional.jacobian(
            lambda d, i=i: model._to_base(d.unsqueeze(0), cond[i : i + 1])[0][0], delta[i]
        )
        torch.testing.assert_close(log_det[i], torch.linalg.slogdet(jac)[1], atol=1e-4, rtol=1e-4)
    base = -0.5 * z.pow(2).sum(-1) - 0.5 * S * math.log(2 * math.pi)
    torch.testing.assert_close(model.log_prob(state, action, nxt), base + log_det)


def test_stochastic_nll_matches_torch_normal():
    model = make("stochastic")
    state, action, nxt = data()
    out = model(state, action)
    expected = torch.distributions.Normal(out["mean"], out["std"]).log_prob(nxt).sum(-1)
    torch.testing.assert_close(model.log_prob(state, action, nxt), expected)
