"""Observation decoder: latent feature -> image (transposed CNN) and proprioception (MLP).

The image decoder mirrors the conv encoder and predicts the centred image (pixels/255 - 0.5);
losses are squared errors summed over each observation (a unit-variance Gaussian NLL up to
a constant, as in Dreamer).
"""

from __future__ import annotations

from torch import Tensor, nn

from vla_wm_ros.config.model import EncoderConfig, HeadsConfig
from vla_wm_ros.models.conv_stack import ConvStack
from vla_wm_ros.models.encoder import image_to_float
from vla_wm_ros.models.mlp import MLP, activation


class ConvDecoder(ConvStack):
    def __init__(self, feature_dim: int, enc: EncoderConfig, heads: HeadsConfig):
        super().__init__()
        stages = enc.conv_stages
        channels = heads.decoder_depth * 2 ** (stages - 1)
        self.start = (channels, enc.min_resolution, enc.min_resolution)
        self.project = nn.Linear(feature_dim, channels * enc.min_resolution**2)
        layers: list[nn.Module] = []
        for stage in range(stages):
            last = stage == stages - 1
            out = 3 if last else channels // 2
            layers.append(nn.ConvTranspose2d(channels, out, kernel_size=4, stride=2, padding=1))
            if not last:
                if heads.norm:
                    layers.append(nn.GroupNorm(1, out))
                layers.append(activation(heads.act))
            channels = out
        self.net = nn.Sequential(*layers)

    def forward(self, feature: Tensor) -> Tensor:
        """(N, F) -> (N, 3, H, W) centred image prediction."""
        return self.run(self.project(feature).view(-1, *self.start))


class ObservationDecoder(nn.Module):
    def __init__(self, feature_dim: int, enc: EncoderConfig, heads: HeadsConfig, proprio_dim: int):
        super().__init__()
        # The decoder always reconstructs pixels, whatever backbone encodes them.
        self.image = ConvDecoder(feature_dim, enc, heads) if enc.backbone != "none" else None
        self.proprio = (
            MLP(feature_dim, heads.hidden, heads.layers, proprio_dim, heads.act, heads.norm)
            if proprio_dim
            else None
        )

    def forward(self, feature: Tensor) -> dict[str, Tensor]:
        """(..., F) -> {'image': (..., 3, H, W) centred, 'proprio': (..., P)} (those present)."""
        lead = feature.shape[:-1]
        flat = feature.reshape(-1, feature.shape[-1])
        out = {}
        if self.image is not None:
            image = self.image(flat)
            out["image"] = image.reshape(*lead, *image.shape[1:])
        if self.proprio is not None:
            out["proprio"] = self.proprio(feature)
        return out

    @staticmethod
    def image_target(image: Tensor) -> Tensor:
        """The decoder's target for an observed image: float pixels in [0, 1] minus 0.5."""
        return image_to_float(image) - 0.5
