"""Resumable training state: weights, optimiser moments and RNG streams, never pickle.

Tensors (module parameters, Adam moments, the torch RNG state) go to one safetensors
file; counters, hyper-parameters and the numpy RNG states go, as YAML text, into that
same file's metadata. One file written under a temporary name and renamed: a kill at any
moment leaves either the previous checkpoint or the new one, never half of each.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
import yaml
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import nn

STATE_FILE = "state.safetensors"
_META_KEY = "progress_yaml"


class TrainStateError(RuntimeError):
    pass


def _atomic(path: Path, write) -> None:
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)


def save_state(
    directory: Path,
    modules: dict[str, nn.Module],
    optimizers: dict[str, torch.optim.Optimizer],
    rngs: dict[str, np.random.Generator],
    progress: dict,
) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, torch.Tensor] = {"rng.torch": torch.get_rng_state()}
    for name, module in modules.items():
        for key, value in module.state_dict().items():
            tensors[f"module.{name}.{key}"] = value.detach().cpu().contiguous()
    groups = {}
    for name, opt in optimizers.items():
        sd = opt.state_dict()
        for index, slots in sd["state"].items():
            for slot, value in slots.items():
                tensors[f"optim.{name}.{index}.{slot}"] = torch.as_tensor(value).cpu().contiguous()
        groups[name] = [{k: v for k, v in g.items()} for g in sd["param_groups"]]
    numpy_rngs = {name: g.bit_generator.state for name, g in rngs.items()}
    meta = dict(progress, optimizer_groups=groups, numpy_rngs=numpy_rngs)
    text = yaml.safe_dump(meta, sort_keys=False)
    _atomic(directory / STATE_FILE, lambda p: save_file(tensors, str(p), {_META_KEY: text}))


def read_state(directory: Path) -> tuple[dict[str, torch.Tensor], dict]:
    """The raw tensors and the metadata (progress, optimiser groups, RNG states) of a state."""
    tensor_path = directory / STATE_FILE
    try:
        tensors = load_file(str(tensor_path))
        with safe_open(str(tensor_path), "pt") as f:
            meta = yaml.safe_load((f.metadata() or {})[_META_KEY])
    except (OSError, KeyError, SafetensorError, yaml.YAMLError) as exc:
        raise TrainStateError(f"{tensor_path}: cannot read the training state ({exc})") from None
    return tensors, meta


def module_tensors(tensors: dict[str, torch.Tensor], name: str) -> dict[str, torch.Tensor]:
    """The state dict of module `name` inside a state's tensors."""
    prefix = f"module.{name}."
    return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}


def load_state(
    directory: Path,
    modules: dict[str, nn.Module],
    optimizers: dict[str, torch.optim.Optimizer],
    rngs: dict[str, np.random.Generator],
) -> dict:
    """Restore everything `save_state` wrote; returns the progress dict."""
    tensor_path = directory / STATE_FILE
    tensors, meta = read_state(directory)
    torch.set_rng_state(tensors.pop("rng.torch"))
    for name, module in modules.items():
        missing, unexpected = module.load_state_dict(module_tensors(tensors, name), strict=False)
        if missing or unexpected:
            raise TrainStateError(
                f"{tensor_path}: module {name} does not match (missing {missing[:3]}, "
                f"unexpected {unexpected[:3]})"
            )
    for name, opt in optimizers.items():
        prefix = f"optim.{name}."
        state: dict[int, dict] = {}
        for key, value in tensors.items():
            if key.startswith(prefix):
                index, slot = key[len(prefix) :].split(".", 1)
                state.setdefault(int(index), {})[slot] = value
        opt.load_state_dict({"state": state, "param_groups": meta["optimizer_groups"][name]})
    for name, g in rngs.items():
        g.bit_generator.state = meta["numpy_rngs"][name]
    return {k: v for k, v in meta.items() if k not in ("optimizer_groups", "numpy_rngs")}
