"""Observation encoders and decoders: conv, proprio-only, pretrained transformers backbone."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from vla_wm_ros.config.model import EncoderConfig, HeadsConfig, load_preset
from vla_wm_ros.models.decoder import ObservationDecoder
from vla_wm_ros.models.encoder import ObservationEncoder
from vla_wm_ros.models.world_model import WorldModel

pytestmark = pytest.mark.usefixtures("single_thread")


@pytest.mark.parametrize("size", [32, 64])
def test_conv_encoder_and_decoder_shapes(size):
    enc_cfg = EncoderConfig(image_size=size, depth=4, embed_dim=20, proprio_hidden=8)
    enc = ObservationEncoder(enc_cfg, proprio_dim=5)
    image = torch.randint(0, 256, (2, 3, 3, size, size), dtype=torch.uint8)
    proprio = torch.randn(2, 3, 5)
    embed = enc(image, proprio)
    assert embed.shape == (2, 3, 20)
    # uint8 and the same image as floats in [0, 1] encode identically.
    torch.testing.assert_close(enc(image.float() / 255.0, proprio), embed)
    dec = ObservationDecoder(24, enc_cfg, HeadsConfig(hidden=16, layers=1, decoder_depth=4), 5)
    out = dec(torch.randn(2, 3, 24))
    assert out["image"].shape == (2, 3, 3, size, size) and out["proprio"].shape == (2, 3, 5)


def test_wrong_image_size_and_missing_proprio_are_named():
    enc = ObservationEncoder(EncoderConfig(image_size=64, depth=4, embed_dim=8), proprio_dim=3)
    with pytest.raises(ValueError, match=r"image must be \(\.\.\., 3, 64, 64\)"):
        enc(torch.zeros(1, 3, 32, 32, dtype=torch.uint8), torch.zeros(1, 3))
    with pytest.raises(ValueError, match=r"proprio must be \(\.\.\., 3\)"):
        enc(torch.zeros(1, 3, 64, 64, dtype=torch.uint8), None)


def test_proprio_only_encoder_has_no_image_parts():
    enc = ObservationEncoder(EncoderConfig(backbone="none", embed_dim=8), proprio_dim=3)
    assert enc(None, torch.randn(4, 3)).shape == (4, 8)
    dec = ObservationDecoder(10, EncoderConfig(backbone="none"), HeadsConfig(hidden=8), 3)
    assert set(dec(torch.randn(4, 10))) == {"proprio"}


def _tiny_vit(path):
    from transformers import ViTConfig, ViTModel

    cfg = ViTConfig(
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=37,
        image_size=32,
        patch_size=8,
    )
    torch.manual_seed(0)
    ViTModel(cfg).save_pretrained(path)


def _tiny_siglip(path):
    from transformers import SiglipVisionConfig, SiglipVisionModel

    cfg = SiglipVisionConfig(
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=37,
        image_size=32,
        patch_size=8,
    )
    torch.manual_seed(0)
    SiglipVisionModel(cfg).save_pretrained(path)


@pytest.mark.parametrize("builder", [_tiny_vit, _tiny_siglip])
@pytest.mark.parametrize("freeze", [True, False])
def test_pretrained_backbone_from_local_directory(builder, freeze, tmp_path):
    builder(tmp_path)
    cfg = load_preset("tiny")
    cfg = dataclasses.replace(
        cfg,
        encoder=dataclasses.replace(
            cfg.encoder, backbone="pretrained", pretrained=str(tmp_path), freeze_pretrained=freeze
        ),
    )
    wm = WorldModel(cfg).train()
    backbone = wm.encoder.image
    assert backbone.out_dim == 32 and backbone.input_size == 32
    assert backbone.model.training is not freeze  # frozen stays in eval mode
    image = torch.randint(0, 256, (2, 3, 64, 64), dtype=torch.uint8)
    embed = wm.encode(image, torch.randn(2, 4))
    assert embed.shape == (2, cfg.encoder.embed_dim)
    embed.pow(2).sum().backward()
    grads = [p.grad is not None and p.grad.any() for p in backbone.parameters()]
    assert not any(grads) if freeze else all(grads)


def test_missing_pretrained_directory_is_named(tmp_path):
    cfg = load_preset("tiny")
    missing = tmp_path / "no-model"
    cfg = dataclasses.replace(
        cfg,
        encoder=dataclasses.replace(cfg.encoder, backbone="pretrained", pretrained=str(missing)),
    )
    with pytest.raises(FileNotFoundError, match="no-model is not a local transformers model"):
        WorldModel(cfg)
