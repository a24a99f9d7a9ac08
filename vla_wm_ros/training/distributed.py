"""Data-parallel training across processes and hosts on torch.distributed.

Started by `torchrun` (which sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR/PORT), every
process runs the same training loop on its own shard of the episodes and its share of
the global batch; after each backward pass the gradients are averaged over all processes
with one all-reduce per bucket of parameters (the DistributedDataParallel algorithm:
identical parameters on every rank, so identical optimiser steps), gloo on CPU, NCCL on
CUDA. Rank 0 alone writes files (curves, TensorBoard, resumable state, checkpoints); the
others wait for it at the points where they read them.

Why not the `DistributedDataParallel` module wrapper itself: it synchronises gradients
through hooks that its own `forward()` arms, once per forward. Our stages compute their
losses through model methods (`world_model_loss`, `actor_critic_loss`), and the
actor-critic stage runs two backward passes (actor, critic) off one imagination rollout,
which the wrapper refuses. The all-reduce below is the same reduction, called where the
gradients are ready (`training.loop.clip_step`).

Without torchrun (WORLD_SIZE unset or 1) every function here is a no-op, so the
single-process path is unchanged.
"""

from __future__ import annotations

import contextlib
import datetime
import os
from collections.abc import Iterable, Iterator

import torch
import torch.distributed as dist
from torch import nn

BUCKET_BYTES = 25 * 1024 * 1024  # DistributedDataParallel's default bucket size


def active() -> bool:
    """True inside a process group of more than one process."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return dist.get_rank() if active() else 0


def world_size() -> int:
    return dist.get_world_size() if active() else 1


def is_main() -> bool:
    return rank() == 0


def barrier() -> None:
    if active():
        dist.barrier()


def backend_for(device: str | torch.device) -> str:
    """NCCL for CUDA devices, gloo for CPU."""
    return "nccl" if torch.device(device).type == "cuda" else "gloo"


@contextlib.contextmanager
def process_group(device: str | torch.device = "cpu", timeout_s: float = 1800.0) -> Iterator[int]:
    """Join the torchrun process group for the duration (yields the world size).

    Without torchrun's environment (WORLD_SIZE unset or 1) nothing is started. With CUDA,
    each process takes the GPU of its LOCAL_RANK.
    """
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        yield 1
        return
    missing = [k for k in ("RANK", "MASTER_ADDR", "MASTER_PORT") if k not in os.environ]
    if missing:
        raise RuntimeError(
            f"WORLD_SIZE={size} but {', '.join(missing)} unset: start with torchrun "
            "(docs/DISTRIBUTED.md)"
        )
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend_for(device), timeout=datetime.timedelta(seconds=timeout_s))
    try:
        yield size
    finally:
        dist.destroy_process_group()


def per_rank_batch(global_batch: int, what: str) -> int:
    """This process's share of a global batch; the global batch must divide evenly."""
    size = world_size()
    if global_batch % size:
        raise ValueError(
            f"{what}: batch_size {global_batch} does not divide over {size} processes "
            "(equal shares keep the gradient average equal to the one-process gradient)"
        )
    return global_batch // size


def shard(items: list, what: str) -> list:
    """This process's shard of `items` (episodes, jobs): every world_size-th from its rank."""
    size = world_size()
    mine = items[rank() :: size]
    if not mine:
        raise ValueError(f"{what}: {len(items)} items cannot give each of {size} processes one")
    return mine


def broadcast_parameters(modules: Iterable[nn.Module]) -> None:
    """Rank 0's parameters and buffers everywhere (as DistributedDataParallel does at start)."""
    if not active():
        return
    with torch.no_grad():
        for module in modules:
            for tensor in [*module.parameters(), *module.buffers()]:
                dist.broadcast(tensor.data, src=0)


def average_gradients(params: Iterable[nn.Parameter]) -> None:
    """Mean of every parameter's gradient over all processes, in flat buckets.

    Parameters without a gradient are left out, as the optimiser leaves them out: every
    rank runs the same step code, so the same parameters have gradients everywhere.
    """
    if not active():
        return
    size = world_size()
    grads = [p.grad for p in params if p.grad is not None]
    for bucket in _buckets(grads):
        flat = torch.cat([g.reshape(-1) for g in bucket])
        dist.all_reduce(flat)
        flat.div_(size)
        offset = 0
        for g in bucket:
            g.copy_(flat[offset : offset + g.numel()].view_as(g))
            offset += g.numel()


def _buckets(grads: list[torch.Tensor]) -> Iterator[list[torch.Tensor]]:
    """Consecutive gradients of one dtype and device, up to BUCKET_BYTES each."""
    bucket: list[torch.Tensor] = []
    size = 0
    for g in grads:
        nbytes = g.numel() * g.element_size()
        if bucket and (
            size + nbytes > BUCKET_BYTES
            or g.dtype != bucket[0].dtype
            or g.device != bucket[0].device
        ):
            yield bucket
            bucket, size = [], 0
        bucket.append(g)
        size += nbytes
    if bucket:
        yield bucket


def mean_terms(terms: dict[str, float]) -> dict[str, float]:
    """Logged loss terms averaged over all processes (the global batch's mean)."""
    if not active() or not terms:
        return terms
    keys = list(terms)  # every rank runs the same step code: the same keys in one order
    values = torch.tensor([float(terms[k]) for k in keys], dtype=torch.float64)
    dist.all_reduce(values)
    values /= world_size()
    return dict(zip(keys, values.tolist(), strict=True))


def gather_to_main(item: object) -> list[object] | None:
    """Every process's `item` on rank 0 (in rank order), None elsewhere (rollout results)."""
    if not active():
        return [item]
    out = [None] * world_size() if is_main() else None
    dist.gather_object(item, out, dst=0)
    return out


def all_gather(item: object) -> list[object]:
    """Every process's `item` on every process, in rank order."""
    if not active():
        return [item]
    out: list[object] = [None] * world_size()
    dist.all_gather_object(out, item)
    return out
