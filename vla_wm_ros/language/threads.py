"""Run small torch workloads with a bounded number of intra-op threads.

Small matrices (one sentence, a 384x10 probe) gain nothing from more threads, and on a
busy 2-core machine torch's thread pool spins against other processes: a probe fit took
6.2 s with 2 threads and 0.14 s with 1 (measured while other jobs ran).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


@contextlib.contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Use `count` torch threads inside the block (0 leaves the setting alone)."""
    import torch

    previous = torch.get_num_threads()
    if count:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
