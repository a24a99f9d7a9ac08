"""The base of the conv encoder and decoder: how their convolutions run (training speed).

Two switches, both off unless training turns them on (`training/speed.py`), so what the
runtime and the exporters build is plain fp32: bf16 autocast over the convolution stack
(on CPUs with native bf16 (AVX-512 BF16 / AMX) the stage-2 step measured 1.5-2x faster;
the RSSM stays fp32, where the GRU's `lerp` fails under autocast) and the channels-last
memory layout oneDNN prefers. Outputs are always fp32.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class ConvStack(nn.Module):
    """Subclasses put their layers in `self.net` and call `self.run(x)`."""

    net: nn.Module

    def __init__(self) -> None:
        super().__init__()
        self.bf16 = False
        self.channels_last = False

    def set_compute(self, bf16: bool, channels_last: bool) -> None:
        self.bf16 = bf16
        self.channels_last = channels_last
        self.net.to(memory_format=torch.channels_last if channels_last else torch.contiguous_format)

    def run(self, x: Tensor) -> Tensor:
        if not (self.bf16 or self.channels_last):
            return self.net(x)  # the runtime's and the exporters' path, unchanged
        if self.channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            out = self.net(x)
        return out.float()
