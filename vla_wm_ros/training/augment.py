"""Image shift augmentation for stage 2 (random whole-pixel shifts, as in DrQ).

A world model that sees each placement from exactly one pixel grid can remember the pixels
of its training scenes instead of reading where things are; small shifts make the encoder
read positions. One offset per sequence, not per frame: the motion the RSSM learns from
stays the real motion, and the reconstruction target moves with the input.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def shift_sequences(image: Tensor, pad: int) -> Tensor:
    """(B, T, C, H, W) images -> the same shape and dtype, each sequence moved by one random
    offset in [-pad, pad] pixels per axis, the border repeated (torch's RNG, so a resumed
    run draws the same shifts)."""
    if pad <= 0:
        return image
    b, t, c, h, w = image.shape
    padded = F.pad(image.reshape(b, t * c, h, w).float(), (pad, pad, pad, pad), mode="replicate")
    offsets = torch.randint(0, 2 * pad + 1, (b, 2)).tolist()
    moved = torch.stack([padded[i, :, y : y + h, x : x + w] for i, (y, x) in enumerate(offsets)])
    return moved.to(image.dtype).reshape(b, t, c, h, w)
