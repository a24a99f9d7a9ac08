"""ImagineKernel: the planner's fast path computes exactly imagine_step + reward."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from vla_wm_ros.config.model import load_preset
from vla_wm_ros.models.imagine_kernel import ImagineKernel
from vla_wm_ros.models.rssm import RSSMState
from vla_wm_ros.models.world_model import WorldModel

pytestmark = pytest.mark.usefixtures("single_thread")

VARIANTS = [
    {"latent": "gaussian"},
    {"latent": "discrete"},
    {"latent": "gaussian", "gru_layers": 2, "prior_layers": 2, "norm": False, "act": "elu"},
    {"latent": "discrete", "gru_layers": 3, "norm": False, "act": "gelu"},
]


def model(**rssm) -> WorldModel:
    cfg = load_preset("tiny")
    cfg = dataclasses.replace(cfg, rssm=dataclasses.replace(cfg.rssm, **rssm))
    torch.manual_seed(0)
    return WorldModel(cfg, action_dim=3, goal_dim=8).eval()


@pytest.mark.parametrize("rssm", VARIANTS)
@pytest.mark.parametrize("sample", [False, True])
def test_kernel_step_and_reward_equal_the_module_path(rssm, sample):
    wm = model(**rssm)
    kernel = ImagineKernel(wm)
    n = 300
    state = RSSMState(torch.randn(n, wm.rssm.deter_size), torch.randn(n, wm.rssm.stoch_size))
    action = torch.rand(n, 3) * 2 - 1
    goal_term = wm.reward_head.goal_term(torch.randn(8))
    with torch.inference_mode():
        for _ in range(3):  # chained steps reuse the kernel's buffers
            torch.manual_seed(1)
            expected = wm.rssm.imagine_step(state, action, sample=sample)
            torch.manual_seed(1)
            got = kernel.step(wm.feature(state), action, sample=sample)
            torch.testing.assert_close(got, wm.feature(expected), rtol=1e-5, atol=1e-5)
            torch.testing.assert_close(
                kernel.reward(got, goal_term),
                wm.reward(wm.feature(expected), goal_term=goal_term),
                rtol=1e-5,
                atol=1e-5,
            )
            state = expected


def test_kernel_writes_into_a_trajectory_tensor():
    wm = model()
    kernel = ImagineKernel(wm)
    n, horizon = 50, 4
    trajectory = torch.empty(horizon + 1, n, wm.rssm.feature_dim)
    trajectory[0] = torch.randn(n, wm.rssm.feature_dim)
    actions = torch.rand(horizon, n, 3)
    with torch.inference_mode():
        for t in range(horizon):
            kernel.step(trajectory[t], actions[t], out=trajectory[t + 1], sample=False)
        state = RSSMState(
            trajectory[0, :, : wm.rssm.deter_size], trajectory[0, :, wm.rssm.deter_size :]
        )
        for t in range(horizon):
            state = wm.rssm.imagine_step(state, actions[t], sample=False)
        torch.testing.assert_close(trajectory[-1], wm.feature(state), rtol=1e-5, atol=1e-5)
