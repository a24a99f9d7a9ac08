"""Analytic FLOP counts of the dense layers a forward pass runs (multiply-add = 2 FLOPs).

Benchmarks divide achieved FLOP/s by the GEMM roofline; elementwise work is not counted,
so the fraction is conservative.
"""

from __future__ import annotations

from collections.abc import Iterable

from torch import nn

from vla_wm_ros.bench.roofline import linear_flops


def dense_flops(linears: Iterable[nn.Linear], batch: int = 1) -> float:
    """FLOPs of running each Linear once on `batch` rows."""
    return sum(linear_flops(batch, m.in_features, m.out_features) for m in linears)


def module_linears(*modules: nn.Module) -> list[nn.Linear]:
    """Every nn.Linear inside `modules`, in order."""
    return [m for module in modules for m in module.modules() if isinstance(m, nn.Linear)]
