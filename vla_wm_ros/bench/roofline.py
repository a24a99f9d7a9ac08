"""This machine's fp32 GEMM throughput, the roofline that benchmarks report against.

Measured in the same process as the benchmark (machines here are shared and noisy), on
square matrices large enough to be compute-bound.
"""

from __future__ import annotations

import time

import torch


def gemm_flops_per_s(
    sizes: tuple[int, ...] = (512, 1024),
    seconds: float = 1.0,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
) -> float:
    """Peak FLOP/s of square matmuls: the best of `sizes`, each run about `seconds`/len(sizes).

    Taking the best size makes the roofline the machine's peak, so a fraction of it is an
    honest (conservative) efficiency figure.
    """
    return max(_gemm_at(size, seconds / len(sizes), dtype, device) for size in sizes)


def _gemm_at(size: int, seconds: float, dtype: torch.dtype, device: str | torch.device) -> float:
    a = torch.randn(size, size, dtype=dtype, device=device)
    b = torch.randn(size, size, dtype=dtype, device=device)
    out = torch.empty(size, size, dtype=dtype, device=device)
    sync = torch.cuda.synchronize if torch.device(device).type == "cuda" else (lambda: None)
    for _ in range(3):
        torch.mm(a, b, out=out)
    sync()
    flops = 2.0 * size**3
    best = 0.0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        t0 = time.perf_counter()
        for _ in range(4):
            torch.mm(a, b, out=out)
        sync()
        best = max(best, 4 * flops / (time.perf_counter() - t0))
    return best


def linear_flops(batch: int, in_features: int, out_features: int) -> float:
    """FLOPs of one dense layer on `batch` rows (multiply-adds counted as 2)."""
    return 2.0 * batch * in_features * out_features
