"""A checkpoint's control-loop units on one backend: built or loaded from the engine
cache, checked against eager, ready to call.

`deploy(world_model, model_dir, backend, device, precision)` is what the nodes, the
planner and `vla-wm export` call. Parity: every unit's outputs must satisfy
max |out - eager| <= atol + rtol * max |eager| (fp32: 1e-4 + 1e-4; fp16: 1e-2 + 1e-2),
checked at the example batch and, for batch-dynamic units, at another batch size, when
the artifacts are built (a cache hit was checked when it was built).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import Tensor

from vla_wm_ros.deploy.backends import Backend, get_backend
from vla_wm_ros.deploy.cache import EngineKey, commit, default_root, read_manifest, staging_dir
from vla_wm_ros.deploy.units import UnitSpec, unit_specs
from vla_wm_ros.models.checkpoint import checkpoint_hash
from vla_wm_ros.models.world_model import WorldModel

TOLERANCE = {"fp32": (1e-4, 1e-4), "fp16": (1e-2, 1e-2)}  # (rtol, atol)
PARITY_BATCH = 37  # a batch size no unit was traced or exported with


class ParityError(RuntimeError):
    """A backend's unit does not reproduce eager PyTorch within the tolerance."""


@dataclass
class DeployedModel:
    backend: str
    device: str
    precision: str
    units: dict[str, Callable[..., object]]
    engine_dir: Path | None = None
    cache_hit: bool = False
    build_s: float = 0.0
    parity: dict[str, float] = field(default_factory=dict)  # unit -> max |out - eager|

    def __getitem__(self, unit: str) -> Callable[..., object]:
        return self.units[unit]


def _outputs(value) -> tuple[Tensor, ...]:
    return value if isinstance(value, tuple) else (value,)


def check_parity(
    specs: list[UnitSpec], units: dict[str, Callable[..., object]], backend: str, precision: str
) -> dict[str, float]:
    """Max |out - eager| of every unit; ParityError naming the unit when out of tolerance."""
    rtol, atol = TOLERANCE[precision]
    errors: dict[str, float] = {}
    for spec in specs:
        batches = (spec.inputs[0].shape[0], PARITY_BATCH) if spec.dynamic_batch else (None,)
        worst = 0.0
        for batch in batches:
            inputs = spec.example(batch) if batch else spec.inputs
            with torch.no_grad():
                ref = _outputs(spec.module(*inputs))
                got = _outputs(units[spec.name](*inputs))
            for r, g in zip(ref, got, strict=True):
                if tuple(g.shape) != tuple(r.shape):
                    raise ParityError(
                        f"{backend}: unit {spec.name} returned shape {tuple(g.shape)} at batch "
                        f"{batch or 'fixed'}, eager {tuple(r.shape)}"
                    )
                r, g = r.float().cpu(), g.float().cpu()
                err = float((g - r).abs().max()) if r.numel() else 0.0
                bound = atol + rtol * float(r.abs().max()) if r.numel() else atol
                if not err <= bound:  # also catches NaN
                    raise ParityError(
                        f"{backend}: unit {spec.name} differs from eager by {err:.3g} at batch "
                        f"{batch or 'fixed'} (tolerance {bound:.3g})"
                    )
                worst = max(worst, err)
        errors[spec.name] = worst
    return errors


def _artifact(directory: Path, spec: UnitSpec, backend: Backend) -> Path:
    return directory / f"{spec.name}{backend.suffix}"


def deploy(
    world_model: WorldModel,
    model_dir: str | Path,
    backend: str = "eager",
    device: str = "cpu",
    precision: str = "fp32",
    cache_root: Path | None = None,
    force: bool = False,
    checkpoint: str | None = None,
) -> DeployedModel:
    """The units of `world_model` (loaded from `model_dir`) on `backend`.

    Backends with artifacts load them from the engine cache when its key matches, and
    otherwise build them, check parity and store them there; `force` rebuilds.
    `checkpoint`: the directory's `checkpoint_hash` when the caller has it already.
    """
    model_dir = Path(model_dir)
    checkpoint = checkpoint or checkpoint_hash(model_dir)
    root = cache_root or default_root(model_dir, checkpoint)
    if backend == "auto":
        from vla_wm_ros.deploy.auto import choose_backend

        backend = choose_backend(
            world_model, model_dir, device, precision, root, force, checkpoint=checkpoint
        )
    impl = get_backend(backend, device, precision)
    impl.prepare(root)
    world_model.eval()
    specs = unit_specs(world_model)
    if impl.suffix is None:
        start = time.monotonic()
        units = {s.name: impl.load(s, None, device) for s in specs}
        parity = {} if impl.name == "eager" else check_parity(specs, units, backend, precision)
        return DeployedModel(
            backend, device, precision, units, build_s=time.monotonic() - start, parity=parity
        )

    key = EngineKey(checkpoint, backend, impl.version(), str(torch.__version__), device, precision)
    directory = root / key.dirname()
    manifest = None if force else read_manifest(directory, key)
    hit = manifest is not None
    if hit:
        units = {s.name: impl.load(s, _artifact(directory, s, impl), device) for s in specs}
    else:
        manifest, units = _build(impl, specs, key, root, directory, device, precision)
    return DeployedModel(
        backend,
        device,
        precision,
        units,
        engine_dir=directory,
        cache_hit=hit,
        build_s=float(manifest["build_s"]),
        parity={k: float(v) for k, v in manifest["parity_max_abs_error"].items()},
    )


def _build(
    impl: Backend,
    specs: list[UnitSpec],
    key: EngineKey,
    root: Path,
    directory: Path,
    device: str,
    precision: str,
) -> tuple[dict, dict[str, Callable[..., object]]]:
    """Build, load and check every unit in a staging folder, then move it into place;
    returns the manifest and the loaded units (they hold their artifacts in memory)."""
    staging = staging_dir(root)
    try:
        start = time.monotonic()
        for spec in specs:
            impl.build(spec, _artifact(staging, spec, impl), precision)
        units = {s.name: impl.load(s, _artifact(staging, s, impl), device) for s in specs}
        parity = check_parity(specs, units, impl.name, precision)
        rtol, atol = TOLERANCE[precision]
        manifest = {
            "key": asdict(key),
            "units": {s.name: _artifact(staging, s, impl).name for s in specs},
            "dynamic_batch": [s.name for s in specs if s.dynamic_batch],
            "parity_max_abs_error": parity,
            "tolerance": {"rtol": rtol, "atol": atol},
            "build_s": round(time.monotonic() - start, 3),
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        commit(staging, directory, manifest)
        return manifest, units
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
