"""`vla-wm bench imagine`: analytic FLOPs and one JSON object on stdout."""

from __future__ import annotations

import json

import pytest

from vla_wm_ros.cli import main
from vla_wm_ros.config.model import load_preset
from vla_wm_ros.models.world_model import WorldModel

pytestmark = pytest.mark.usefixtures("single_thread")


def test_flops_per_transition_by_hand():
    wm = WorldModel(load_preset("tiny"))  # stoch 8, action 4, hidden 32, deter 32, heads 32
    img_in = 2 * (8 + 4) * 32
    gru = 2 * (32 + 32) * (3 * 32)
    prior = 2 * 32 * 32 + 2 * 32 * (2 * 8)
    reward = 2 * (32 + 8) * 32 + 2 * 32 * 1  # the goal term is cached, not counted
    assert wm.imagine_flops() == img_in + gru + prior + reward == 18752


def test_cli_json(capsys):
    args = (
        "bench imagine --presets tiny --threads 1 --paths module,kernel --seconds 0.2 --batch 200"
    )
    code = main([*args.split(), "--json"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)  # exactly one JSON object
    best = result["models"]["tiny"]["best"]
    assert best["flops_per_transition"] == 18752 and best["threads"] == 1
    assert best["transitions_per_s"] > 0 and 0 < best["roofline_fraction"] < 2
    variants = result["models"]["tiny"]["variants"]
    assert [v["path"] for v in variants] == ["module", "kernel"]
    assert all(v["batch"] == 200 and v["step_ms"]["n"] >= 10 for v in variants)
