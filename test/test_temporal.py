"""Temporal encoders: shapes, strict causality, gradients, one factory."""

from __future__ import annotations

import pytest
import torch

from vla_wm_ros.config.model import TemporalConfig
from vla_wm_ros.models.temporal.history import build_temporal_encoder

pytestmark = pytest.mark.usefixtures("single_thread")

KINDS = ["transformer", "lstm", "gru", "tcn", "mamba", "cross_transformer"]
B, T, OBS, ACT = 2, 7, 12, 3


def make(kind: str):
    torch.manual_seed(0)
    cfg = TemporalConfig(
        kind=kind, context_dim=16, layers=2, heads=4, ff_mult=2, dropout=0.1, ssm_state=4
    )
    return build_temporal_encoder(cfg, OBS, ACT)


def test_none_builds_nothing():
    assert build_temporal_encoder(TemporalConfig(kind="none"), OBS, ACT) is None


@pytest.mark.parametrize("kind", KINDS)
def test_shape_and_gradients(kind):
    enc = make(kind).train()
    obs, act = torch.randn(B, T, OBS), torch.randn(B, T, ACT)
    out = enc(obs, act)
    assert out.shape == (B, T, 16)
    out.pow(2).mean().backward()
    silent = [n for n, p in enc.named_parameters() if p.grad is None or not p.grad.any()]
    assert not silent, f"{kind}: no gradient for {silent}"


@pytest.mark.parametrize("kind", KINDS)
def test_causal_future_never_changes_the_past(kind):
    enc = make(kind).eval()
    obs, act = torch.randn(B, T, OBS), torch.randn(B, T, ACT)
    with torch.no_grad():
        base = enc(obs, act)
        for t in range(T - 1):
            obs2, act2 = obs.clone(), act.clone()
            obs2[:, t + 1 :] += torch.randn_like(obs2[:, t + 1 :]) * 3
            act2[:, t + 1 :] += torch.randn_like(act2[:, t + 1 :]) * 3
            changed = enc(obs2, act2)
            torch.testing.assert_close(changed[:, : t + 1], base[:, : t + 1], rtol=0, atol=1e-5)
            assert not torch.allclose(changed[:, t + 1], base[:, t + 1])
