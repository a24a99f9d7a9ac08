"""Applying `SpeedConfig` to a world model, with run-time detection of native bf16.

bf16 autocast is worth it only where the CPU computes bf16 natively (AVX-512 BF16, AMX);
elsewhere oneDNN emulates it and the step gets slower, so "auto" asks the CPU, not a flag
file. Only the conv encoder/decoder are switched (`models.conv_stack`): a bf16 probe of
the whole step gained nothing in the RSSM, whose GRU `lerp` fails under autocast.
"""

from __future__ import annotations

import torch

from vla_wm_ros.models.conv_stack import ConvStack
from vla_wm_ros.models.world_model import WorldModel
from vla_wm_ros.training.config import SpeedConfig


def native_bf16() -> bool:
    """True where this CPU has bf16 arithmetic in hardware (AVX-512 BF16 or AMX tiles)."""
    return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())


def resolve_bf16(setting: str) -> bool:
    if setting not in ("auto", "on", "off"):
        raise ValueError(f"speed.bf16_convs: {setting!r} is not one of auto, on, off")
    return native_bf16() if setting == "auto" else setting == "on"


def conv_stacks(wm: WorldModel) -> list[ConvStack]:
    """The world model's conv encoder/decoder (none for proprio-only or pretrained encoders)."""
    parts = (wm.encoder.image, wm.decoder.image)
    return [m for m in parts if isinstance(m, ConvStack)]


def apply_speed(wm: WorldModel, speed: SpeedConfig) -> dict:
    """Switch the conv stacks as configured; returns the settings in force (for run.yaml)."""
    bf16 = resolve_bf16(speed.bf16_convs)
    for stack in conv_stacks(wm):
        stack.set_compute(bf16, speed.channels_last)
    return {"preload": speed.preload, "channels_last": speed.channels_last, "bf16_convs": bf16}
