"""Causal attention masks and sinusoidal positions shared by the attention encoders."""

from __future__ import annotations

import math

import torch
from torch import Tensor


def causal_mask(queries: int, keys: int, device: torch.device | str) -> Tensor:
    """Boolean (queries, keys) mask, True where query t must NOT see key s (s > t)."""
    q = torch.arange(queries, device=device).unsqueeze(1)
    k = torch.arange(keys, device=device).unsqueeze(0)
    return k > q


def sinusoidal_positions(steps: int, dim: int, device: torch.device | str) -> Tensor:
    """(steps, dim) fixed sinusoidal position codes (Vaswani et al.), any length."""
    position = torch.arange(steps, device=device, dtype=torch.float32).unsqueeze(1)
    freq = torch.exp(
        torch.arange(0, dim, 2, device=device, dtype=torch.float32) * (-math.log(10000.0) / dim)
    )
    codes = torch.zeros(steps, dim, device=device)
    codes[:, 0::2] = torch.sin(position * freq)
    codes[:, 1::2] = torch.cos(position * freq[: dim // 2])
    return codes
