"""Checkpoints: bit-exact round trip, stable hash, and errors naming file/key/tensor."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import yaml

from vla_wm_ros.config.model import load_preset
from vla_wm_ros.models.checkpoint import (
    CONFIG_FILE,
    MANIFEST_FILE,
    WEIGHTS_FILE,
    CheckpointError,
    checkpoint_hash,
    load_checkpoint,
    read_meta,
    save_checkpoint,
    verify_manifest,
    write_manifest,
)
from vla_wm_ros.models.rssm import RSSMState
from vla_wm_ros.models.world_model import WorldModel

pytestmark = pytest.mark.usefixtures("single_thread")


def trained_model() -> WorldModel:
    torch.manual_seed(0)
    wm = WorldModel(load_preset("tiny"), action_dim=3, proprio_dim=4, goal_dim=8)
    with torch.no_grad():  # move weights and the return-norm buffer off their init values
        for p in wm.parameters():
            p.add_(torch.randn_like(p) * 0.01)
        wm.return_norm.update(torch.linspace(0, 50, 100))
    return wm


def test_round_trip_is_bit_exact(tmp_path):
    wm = trained_model()
    save_checkpoint(wm, tmp_path / "ckpt", extra={"steps": 12, "data": "synthetic"})
    loaded = load_checkpoint(tmp_path / "ckpt")
    assert loaded.cfg == wm.cfg
    original, restored = wm.state_dict(), loaded.state_dict()
    assert original.keys() == restored.keys()
    for key, value in original.items():
        assert torch.equal(value, restored[key]), key
    state = RSSMState(torch.randn(5, wm.rssm.deter_size), torch.randn(5, wm.rssm.stoch_size))
    action = torch.rand(5, 3)
    torch.testing.assert_close(
        loaded.rssm.imagine_step(state, action, sample=False).deter,
        wm.rssm.imagine_step(state, action, sample=False).deter,
        rtol=0,
        atol=0,
    )
    assert read_meta(tmp_path / "ckpt") == {"steps": 12, "data": "synthetic"}
    assert not list((tmp_path / "ckpt").glob(".*tmp"))  # no temporary files left behind


def test_hash_is_stable_and_tracks_weights(tmp_path):
    wm = trained_model()
    save_checkpoint(wm, tmp_path / "a")
    save_checkpoint(wm, tmp_path / "b", extra={"note": "metadata does not count"})
    digest = checkpoint_hash(tmp_path / "a")
    assert len(digest) == 64 and digest == checkpoint_hash(tmp_path / "b")
    with torch.no_grad():
        next(wm.parameters()).add_(1e-3)
    save_checkpoint(wm, tmp_path / "c")
    assert checkpoint_hash(tmp_path / "c") != digest


def test_config_that_does_not_fit_the_weights_names_the_tensor(tmp_path):
    save_checkpoint(trained_model(), tmp_path)
    data = yaml.safe_load((tmp_path / CONFIG_FILE).read_text())
    data["rssm"]["deter"] = 48
    (tmp_path / CONFIG_FILE).write_text(yaml.safe_dump(data))
    write_manifest(tmp_path)  # an edit the manifest vouches for: the deeper check speaks
    with pytest.raises(CheckpointError, match=r"tensor 'rssm\.gru\.cells\.0\.weight': shape"):
        load_checkpoint(tmp_path)


def test_missing_and_unexpected_tensors_are_named(tmp_path):
    from safetensors.torch import load_file, save_file

    save_checkpoint(trained_model(), tmp_path)
    tensors = load_file(str(tmp_path / WEIGHTS_FILE))
    tensors.pop("reward_head.net.cond_in.bias")
    tensors["extra.weight"] = torch.zeros(2)
    save_file(tensors, str(tmp_path / WEIGHTS_FILE))
    write_manifest(tmp_path)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(tmp_path)
    assert "missing tensor 'reward_head.net.cond_in.bias'" in str(info.value)
    assert "unexpected tensor 'extra.weight'" in str(info.value)


def test_expected_config_mismatch_lists_the_keys(tmp_path):
    wm = trained_model()
    save_checkpoint(wm, tmp_path)
    other = dataclasses.replace(wm.cfg, rssm=dataclasses.replace(wm.cfg.rssm, hidden=64))
    with pytest.raises(CheckpointError, match=r"rssm\.hidden: expected 64, checkpoint has 32"):
        load_checkpoint(tmp_path, expected=other)
    assert load_checkpoint(tmp_path, expected=wm.cfg).cfg == wm.cfg


@pytest.mark.parametrize("damage", ["truncate", "garbage"])
def test_corrupt_weights_name_the_file(tmp_path, damage):
    save_checkpoint(trained_model(), tmp_path)
    path = tmp_path / WEIGHTS_FILE
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2] if damage == "truncate" else b"\x00" * 64)
    write_manifest(tmp_path)
    with pytest.raises(CheckpointError, match=r"weights\.safetensors: corrupt or truncated"):
        load_checkpoint(tmp_path)


def test_missing_files_and_bad_config_keys_are_named(tmp_path):
    with pytest.raises(CheckpointError, match=r"config\.yaml: missing"):
        load_checkpoint(tmp_path)
    save_checkpoint(trained_model(), tmp_path)
    (tmp_path / WEIGHTS_FILE).unlink()
    with pytest.raises(CheckpointError, match=r"weights\.safetensors: missing"):
        load_checkpoint(tmp_path)
    text = (tmp_path / CONFIG_FILE).read_text().replace("deter:", "deterministic:")
    (tmp_path / CONFIG_FILE).write_text(text)
    (tmp_path / MANIFEST_FILE).unlink()  # a checkpoint from before manifests: unchecked
    with pytest.raises(
        CheckpointError, match=r"config\.yaml: rssm: unknown key\(s\) deterministic"
    ):
        load_checkpoint(tmp_path)


@pytest.mark.parametrize("name", [WEIGHTS_FILE, "dynamics_flow.safetensors", CONFIG_FILE])
def test_a_bit_flipped_after_saving_is_refused_naming_the_file(tmp_path, name):
    from safetensors.torch import save_file

    save_checkpoint(trained_model(), tmp_path)
    save_file({"w": torch.ones(64)}, str(tmp_path / "dynamics_flow.safetensors"))
    write_manifest(tmp_path)  # as the trainer does after adding its dynamics files
    assert load_checkpoint(tmp_path) is not None
    path = tmp_path / name
    raw = bytearray(path.read_bytes())
    raw[-3] ^= 0x10  # inside the last tensor's data (or config text): headers stay valid
    path.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match=rf"{name.replace('.', r'[.]')}: content hash"):
        load_checkpoint(tmp_path)


def test_the_shipped_model_carries_its_content_hashes():
    from vla_wm_ros import paths

    shipped = paths.models_dir() / paths.DEFAULT_MODEL
    assert verify_manifest(shipped), f"{shipped} has no manifest.yaml"
