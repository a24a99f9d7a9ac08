"""Inference backends: how a unit (deploy/units.py) becomes a fast callable.

Every backend answers the same four questions: is it usable here (and if not, why), what
version would its artifacts depend on, how to build a unit's artifact into a directory,
and how to load it back as a callable taking and returning torch tensors.

- eager: the PyTorch modules as they are (the reference every other backend is checked
  against; the planner then uses the allocation-light ImagineKernel);
- compile: `torch.compile` (Inductor); its generated code is cached by Inductor under the
  engine directory, so a second launch skips the C++ compilation;
- torchscript: `torch.jit.trace` + `freeze`, saved as a TorchScript archive (code and
  constants, loaded by `torch.jit.load`, which builds only TorchScript objects);
- onnxruntime: ONNX (opset 17) run by ONNX Runtime's CPU execution provider;
- tensorrt: torch-tensorrt (CUDA only), engines serialised with `torch_tensorrt.save`.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor

from vla_wm_ros.config import ConfigError
from vla_wm_ros.deploy import BACKEND_CHOICES
from vla_wm_ros.deploy.units import UnitSpec

PRECISIONS = {"fp32": torch.float32, "fp16": torch.float16}


class BackendUnavailable(ConfigError):
    """The configured backend cannot run here; the message says why."""


class Backend:
    name = ""
    devices: tuple[str, ...] = ("cpu", "cuda")
    precisions: tuple[str, ...] = ("fp32",)
    suffix: str | None = None  # artifact file suffix; None: nothing stored on disk

    def unavailable(self, device: str, precision: str) -> str | None:
        """None when this backend can run `precision` on `device`, else the reason."""
        if device not in self.devices:
            return f"{self.name} runs on {'/'.join(self.devices)}, not {device}"
        if precision not in self.precisions:
            return f"{self.name} supports precision {'/'.join(self.precisions)}, not {precision}"
        if device == "cuda" and not torch.cuda.is_available():
            return f"device cuda requested but torch {torch.__version__} sees no CUDA device"
        return None

    def version(self) -> str:
        return str(torch.__version__)

    def prepare(self, cache_root: Path) -> None:
        """Set-up before the first load, given the engine cache folder (most need none)."""

    def build(self, spec: UnitSpec, path: Path, precision: str) -> None:
        """Write the artifact of `spec` to `path` (only backends with a suffix)."""
        raise NotImplementedError

    def load(self, spec: UnitSpec, path: Path | None, device: str) -> Callable[..., object]:
        raise NotImplementedError


class EagerBackend(Backend):
    name = "eager"

    def load(self, spec: UnitSpec, path: Path | None, device: str) -> Callable[..., object]:
        return spec.module


class CompileBackend(Backend):
    name = "compile"
    devices = ("cpu", "cuda")

    def prepare(self, cache_root: Path) -> None:
        """Point Inductor's on-disk cache into the engine cache unless the user chose one."""
        os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(cache_root / "inductor"))

    def load(self, spec: UnitSpec, path: Path | None, device: str) -> Callable[..., object]:
        return torch.compile(spec.module, dynamic=spec.dynamic_batch)


class TorchScriptBackend(Backend):
    name = "torchscript"
    suffix = ".ts"

    def build(self, spec: UnitSpec, path: Path, precision: str) -> None:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            traced = torch.jit.trace(spec.module.eval(), spec.inputs, check_trace=False)
            torch.jit.save(torch.jit.freeze(traced), str(path))

    def load(self, spec: UnitSpec, path: Path | None, device: str) -> Callable[..., object]:
        try:
            return torch.jit.load(str(path), map_location=device)
        except Exception as exc:  # any failure to read the archive names the file
            raise RuntimeError(f"{path}: not a loadable TorchScript archive ({exc})") from exc


class OnnxRuntimeBackend(Backend):
    name = "onnxruntime"
    devices = ("cpu",)
    suffix = ".onnx"

    def unavailable(self, device: str, precision: str) -> str | None:
        if importlib.util.find_spec("onnxruntime") is None:
            return "onnxruntime is not installed (pip install onnxruntime)"
        return super().unavailable(device, precision)

    def version(self) -> str:
        import onnxruntime

        return f"onnxruntime {onnxruntime.__version__}"

    def build(self, spec: UnitSpec, path: Path, precision: str) -> None:
        names = (*spec.input_names, *spec.output_names)
        axes = {n: {0: "batch"} for n in names if n != "goal_term"} if spec.dynamic_batch else None
        with torch.no_grad(), warnings.catch_warnings(), contextlib.redirect_stdout(None):
            warnings.simplefilter("ignore")
            torch.onnx.export(
                spec.module.eval(),
                spec.inputs,
                str(path),
                dynamo=False,
                input_names=list(spec.input_names),
                output_names=list(spec.output_names),
                dynamic_axes=axes,
                opset_version=17,
            )

    def load(self, spec: UnitSpec, path: Path | None, device: str) -> Callable[..., object]:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # No busy-waiting between runs: the nodes' sessions and torch share a few cores.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own types for corrupt files
            raise RuntimeError(f"{path}: not a loadable ONNX model ({exc})") from exc
        return OrtUnit(session, spec.input_names, len(spec.output_names))


class OrtUnit:
    """An ONNX Runtime session called like the torch unit it was exported from."""

    def __init__(self, session, input_names: tuple[str, ...], outputs: int):
        self._session = session
        self._names = input_names
        self._single = outputs == 1

    def __call__(self, *inputs: Tensor):
        feed = {n: x.detach().cpu().numpy() for n, x in zip(self._names, inputs, strict=True)}
        outs = [torch.from_numpy(o) for o in self._session.run(None, feed)]
        return outs[0] if self._single else tuple(outs)


class TensorRTBackend(Backend):
    name = "tensorrt"
    devices = ("cuda",)
    precisions = ("fp32", "fp16")
    suffix = ".ep"

    def unavailable(self, device: str, precision: str) -> str | None:
        if importlib.util.find_spec("torch_tensorrt") is None:
            return (
                "torch_tensorrt is not installed: it needs a CUDA build of torch and a "
                f"CUDA GPU (this torch is {torch.__version__})"
            )
        return super().unavailable(device, precision)

    def version(self) -> str:
        import tensorrt
        import torch_tensorrt

        return f"tensorrt {tensorrt.__version__}, torch_tensorrt {torch_tensorrt.__version__}"

    def build(self, spec: UnitSpec, path: Path, precision: str) -> None:
        import torch_tensorrt

        inputs = []
        for x in spec.inputs:
            if spec.dynamic_batch and x.dim() > 1:
                rest = tuple(x.shape[1:])
                inputs.append(
                    torch_tensorrt.Input(
                        min_shape=(1, *rest), opt_shape=tuple(x.shape), max_shape=(16384, *rest)
                    )
                )
            else:
                inputs.append(torch_tensorrt.Input(shape=tuple(x.shape), dtype=x.dtype))
        module = torch_tensorrt.compile(
            spec.module.eval(),
            ir="dynamo",
            inputs=inputs,
            enabled_precisions={PRECISIONS[precision]},
        )
        torch_tensorrt.save(module, str(path), inputs=list(spec.inputs))

    def load(self, spec: UnitSpec, path: Path | None, device: str) -> Callable[..., object]:
        try:
            return torch.export.load(str(path)).module()
        except Exception as exc:
            raise RuntimeError(f"{path}: not a loadable TensorRT program ({exc})") from exc


BACKENDS: dict[str, Backend] = {
    b.name: b
    for b in (
        EagerBackend(),
        CompileBackend(),
        TorchScriptBackend(),
        OnnxRuntimeBackend(),
        TensorRTBackend(),
    )
}


def get_backend(name: str, device: str, precision: str) -> Backend:
    """The backend called `name`, or BackendUnavailable saying why it cannot run here."""
    if name not in BACKENDS:
        raise ValueError(f"backend {name!r}: one of {', '.join(BACKEND_CHOICES)}")
    backend = BACKENDS[name]
    reason = backend.unavailable(device, precision)
    if reason is not None:
        raise BackendUnavailable(f"backend {name} is not available: {reason}")
    return backend


def available_backends(device: str, precision: str = "fp32") -> list[str]:
    return [n for n, b in BACKENDS.items() if b.unavailable(device, precision) is None]
