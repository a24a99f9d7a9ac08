"""What every benchmark report says about the machine it ran on."""

from __future__ import annotations

import platform


def machine_info() -> dict:
    import torch

    return {
        "torch_threads": torch.get_num_threads(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "platform": platform.platform(),
        "torch": torch.__version__,
        "shared": "other jobs may run on this machine: compare ratios from one run",
    }
