"""Observation encoder: image backbone + proprioception fused into one embedding e_t.

The conv backbone is Dreamer's: stride-2 4x4 convolutions doubling the channels until the
image is `min_resolution` pixels wide, normalised and activated at every stage. Images come
in as uint8 (B, 3, H, W) or floats in [0, 1]; the encoder normalises them itself.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from vla_wm_ros.config.model import EncoderConfig
from vla_wm_ros.models.conv_stack import ConvStack
from vla_wm_ros.models.mlp import MLP, activation, hidden_block
from vla_wm_ros.models.vision_backbone import PretrainedVisionBackbone


def image_to_float(image: Tensor) -> Tensor:
    """uint8 [0, 255] or float [0, 1] -> float [0, 1]."""
    return image.float() / 255.0 if image.dtype == torch.uint8 else image.float()


class ConvEncoder(ConvStack):
    def __init__(self, cfg: EncoderConfig):
        super().__init__()
        layers: list[nn.Module] = []
        channels = 3
        for stage in range(cfg.conv_stages):
            out = cfg.depth * 2**stage
            layers.append(nn.Conv2d(channels, out, kernel_size=4, stride=2, padding=1))
            if cfg.norm:
                layers.append(nn.GroupNorm(1, out))
            layers.append(activation(cfg.act))
            channels = out
        self.net = nn.Sequential(*layers, nn.Flatten())
        self.out_dim = channels * cfg.min_resolution**2

    def forward(self, image: Tensor) -> Tensor:
        """(B, 3, H, W) float in [0, 1] -> (B, out_dim)."""
        return self.run(image - 0.5)


class ObservationEncoder(nn.Module):
    def __init__(self, cfg: EncoderConfig, proprio_dim: int):
        super().__init__()
        self.cfg = cfg
        self.proprio_dim = proprio_dim
        self.image: nn.Module | None
        if cfg.backbone == "conv":
            self.image = ConvEncoder(cfg)
        elif cfg.backbone == "pretrained":
            self.image = PretrainedVisionBackbone(cfg.pretrained, cfg.freeze_pretrained)
        else:
            self.image = None
        image_dim = 0 if self.image is None else self.image.out_dim
        self.proprio = (
            MLP(proprio_dim, cfg.proprio_hidden, 1, None, cfg.act, cfg.norm)
            if proprio_dim
            else None
        )
        fused = image_dim + (cfg.proprio_hidden if proprio_dim else 0)
        self.fuse = nn.Sequential(
            nn.Linear(fused, cfg.embed_dim), *hidden_block(cfg.embed_dim, cfg.act, cfg.norm)
        )
        self.out_dim = cfg.embed_dim

    @property
    def uses_image(self) -> bool:
        return self.image is not None

    def forward(self, image: Tensor | None, proprio: Tensor | None) -> Tensor:
        """(..., 3, H, W) images and (..., P) proprioception -> (..., embed_dim)."""
        return self.with_image_features(image, proprio)[0]

    def with_image_features(
        self, image: Tensor | None, proprio: Tensor | None
    ) -> tuple[Tensor, Tensor | None]:
        """The embedding and the image backbone's per-frame features (..., image out_dim)
        (None without an image backbone): the view-state head reads the latter."""
        parts = []
        lead = None
        if self.image is not None:
            if image is None:
                raise ValueError("encoder: this model sees images; got image=None")
            size = self.cfg.image_size
            if self.cfg.backbone == "conv" and tuple(image.shape[-3:]) != (3, size, size):
                raise ValueError(
                    f"encoder: image must be (..., 3, {size}, {size}), got {tuple(image.shape)}"
                )
            lead = image.shape[:-3]
            flat = image_to_float(image.reshape(-1, *image.shape[-3:]))
            parts.append(self.image(flat))
        if self.proprio is not None:
            if proprio is None or proprio.shape[-1] != self.proprio_dim:
                got = None if proprio is None else tuple(proprio.shape)
                raise ValueError(f"encoder: proprio must be (..., {self.proprio_dim}), got {got}")
            lead = proprio.shape[:-1] if lead is None else lead
            parts.append(self.proprio(proprio.reshape(-1, self.proprio_dim).float()))
        embed = self.fuse(torch.cat(parts, dim=-1))
        seen = parts[0].reshape(*lead, parts[0].shape[-1]) if self.image is not None else None
        return embed.reshape(*lead, embed.shape[-1]), seen
