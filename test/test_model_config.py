"""WorldModelConfig: presets, YAML round trip, and errors that name the key."""

from __future__ import annotations

import dataclasses

import pytest

from vla_wm_ros.config.loader import ConfigError, from_dict, load_yaml, save_yaml
from vla_wm_ros.config.model import PRESETS, WorldModelConfig, load_preset

pytestmark = pytest.mark.usefixtures("single_thread")


@pytest.mark.parametrize("name", PRESETS)
def test_presets_load_and_round_trip(name, tmp_path):
    cfg = load_preset(name)
    save_yaml(cfg, tmp_path / "c.yaml")
    assert load_yaml(WorldModelConfig, tmp_path / "c.yaml") == cfg


def test_seed_preset_has_the_seed_sizes():
    cfg = load_preset("seed")
    assert (cfg.rssm.deter, cfg.rssm.gru_layers, cfg.rssm.stoch, cfg.rssm.hidden) == (
        256,
        2,
        32,
        512,
    )
    assert (cfg.rssm.categories, cfg.rssm.classes) == (32, 32)
    assert cfg.action_dim == 7 and cfg.loss.free_nats == 3.0 and cfg.loss.kl_dyn == 1.0
    assert cfg.temporal.history_length == 16 and cfg.temporal.context_dim == 256
    assert cfg.vlm_backbone == "Qwen/Qwen2-1.5B-Instruct"


def test_unknown_preset_lists_valid_names():
    with pytest.raises(ConfigError, match="valid presets: seed, tiny, default"):
        load_preset("huge")


def test_unknown_key_is_named(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("rssm:\n  detr: 64\n")
    with pytest.raises(ConfigError, match=r"c.yaml: rssm: unknown key\(s\) detr"):
        load_yaml(WorldModelConfig, path)


def test_wrong_type_is_named():
    with pytest.raises(ConfigError, match=r"rssm\.deter: expected int"):
        from_dict(WorldModelConfig, {"rssm": {"deter": "big"}})


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"rssm": {"deter": 0}}, "rssm: deter: must be positive"),
        ({"encoder": {"image_size": 48}}, "image_size: 48 must be min_resolution"),
        ({"temporal": {"context_dim": 30, "heads": 4}}, "not divisible by 4 heads"),
        ({"rssm": {"unimix": 1.0}}, r"unimix: must be in \[0, 1\)"),
        ({"dynamics": {"kind": "ensemble", "ensemble_size": 1}}, "needs >= 2 members"),
        ({"actor_critic": {"gamma": 1.5}}, "gamma: must be in"),
        ({"encoder": {"backbone": "none"}, "proprio_dim": 0}, "nothing to see"),
        ({"encoder": {"backbone": "pretrained"}}, "needs a local model directory"),
        ({"loss": {"view_state": 1.0}}, r"loss\.view_state needs environment_state_dim"),
        (
            {
                "loss": {"view_state": 1.0},
                "environment_state_dim": 39,
                "encoder": {"backbone": "none"},
            },
            r"loss\.view_state needs an image backbone",
        ),
    ],
)
def test_impossible_sizes_are_refused(data, message):
    with pytest.raises(ConfigError, match=message):
        from_dict(WorldModelConfig, data)


def test_validate_catches_sections_built_in_code():
    cfg = load_preset("tiny")
    bad = dataclasses.replace(cfg, rssm=dataclasses.replace(cfg.rssm, hidden=-1))
    with pytest.raises(ConfigError, match=r"rssm\.hidden: must be positive"):
        bad.validate()
