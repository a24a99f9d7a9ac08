"""A pretrained transformers vision model (ViT, SigLIP, CLIP vision tower) as image encoder.

Loaded from a local directory only (nothing is downloaded). Images are resized to the
model's own input size and normalised with its processor's mean/std when the directory has
a preprocessor_config.json (else 0.5/0.5, the SigLIP convention).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class PretrainedVisionBackbone(nn.Module):
    def __init__(self, path: str | Path, freeze: bool = True):
        super().__init__()
        from transformers import AutoModel

        path = Path(path)
        if not (path / "config.json").is_file():
            raise FileNotFoundError(
                f"encoder.pretrained: {path} is not a local transformers model directory "
                "(no config.json); nothing is downloaded"
            )
        model = AutoModel.from_pretrained(path, local_files_only=True)
        self.model = getattr(model, "vision_model", model)  # full CLIP/SigLIP: vision tower
        config = self.model.config
        self.input_size = int(config.image_size)
        self.out_dim = int(config.hidden_size)
        mean, std = _normalisation(path)
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)
        self.frozen = freeze
        if freeze:
            self.model.requires_grad_(False)
            self.model.eval()

    def train(self, mode: bool = True) -> PretrainedVisionBackbone:
        super().train(mode)
        if self.frozen:
            self.model.eval()  # frozen statistics (dropout off) whatever the parent does
        return self

    def forward(self, image: Tensor) -> Tensor:
        """(B, 3, H, W) float in [0, 1] -> (B, hidden_size) pooled features."""
        size = (self.input_size, self.input_size)
        if image.shape[-2:] != size:
            image = F.interpolate(image, size=size, mode="bilinear", align_corners=False)
        pixels = (image - self.mean) / self.std
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.frozen):
            out = self.model(pixel_values=pixels)
        pooled = getattr(out, "pooler_output", None)
        return pooled if pooled is not None else out.last_hidden_state.mean(dim=1)


def _normalisation(path: Path) -> tuple[list[float], list[float]]:
    processor = path / "preprocessor_config.json"
    if processor.is_file():
        data = json.loads(processor.read_text())
        if "image_mean" in data and "image_std" in data:
            return list(data["image_mean"]), list(data["image_std"])
    return [0.5, 0.5, 0.5], [0.5, 0.5, 0.5]
