"""World-model checkpoints: a directory with config.yaml + weights.safetensors (+ meta.yaml).

Never pickle. Loading checks everything before touching the model and names what is
wrong: the file (missing, corrupt, truncated), the config key, or the tensor (missing,
unexpected, wrong shape or dtype). Files are written to a temporary name and renamed, so
an interrupted save never leaves a half-written checkpoint behind under the real name.
`checkpoint_hash` is the key deploy/ caches compiled engines on.

Content hashes: saving writes manifest.yaml with the SHA-256 of config.yaml and every
*.safetensors file in the directory; loading checks each listed file against it before
reading, so a flipped bit inside tensor data (which safetensors' header checks cannot
see) is refused with the file's name instead of evaluating silently. A writer that adds
a file to a checkpoint afterwards calls `write_manifest` again. A checkpoint without a
manifest (saved before it existed) loads unchecked; `write_manifest` gives it one.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import torch
import yaml
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from vla_wm_ros.config.loader import ConfigError, load_yaml, save_yaml, to_dict
from vla_wm_ros.config.model import WorldModelConfig
from vla_wm_ros.models.world_model import WorldModel

CONFIG_FILE = "config.yaml"
WEIGHTS_FILE = "weights.safetensors"
META_FILE = "meta.yaml"
MANIFEST_FILE = "manifest.yaml"


class CheckpointError(ValueError):
    """A checkpoint cannot be read or does not match the model it should rebuild."""


def _replace_atomically(path: Path, write) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    write(tmp)
    os.replace(tmp, path)


def save_checkpoint(model: WorldModel, directory: str | Path, extra: dict | None = None) -> Path:
    """Write `model` (weights, buffers, config) and optional YAML metadata to `directory`."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    _replace_atomically(directory / WEIGHTS_FILE, lambda p: save_file(tensors, str(p)))
    _replace_atomically(directory / CONFIG_FILE, lambda p: save_yaml(model.cfg, p))
    if extra is not None:
        text = yaml.safe_dump(extra, sort_keys=False)
        _replace_atomically(directory / META_FILE, lambda p: p.write_text(text))
    write_manifest(directory)
    return directory


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_manifest(directory: str | Path) -> Path:
    """Record the SHA-256 of config.yaml and every *.safetensors file in `directory`."""
    directory = Path(directory)
    names = sorted(p.name for p in directory.glob("*.safetensors"))
    if (directory / CONFIG_FILE).is_file():
        names.insert(0, CONFIG_FILE)
    hashes = {name: _file_sha256(directory / name) for name in names}
    text = yaml.safe_dump({"sha256": hashes}, sort_keys=False)
    path = directory / MANIFEST_FILE
    _replace_atomically(path, lambda p: p.write_text(text))
    return path


def verify_manifest(directory: str | Path) -> bool:
    """Check every file the manifest lists; False when there is no manifest.

    Raises CheckpointError naming the first file that is missing or whose content
    differs from what was saved.
    """
    directory = Path(directory)
    path = directory / MANIFEST_FILE
    if not path.is_file():
        return False
    try:
        hashes = (yaml.safe_load(path.read_text()) or {}).get("sha256")
    except (yaml.YAMLError, AttributeError) as exc:
        raise CheckpointError(f"{path}: not a manifest ({exc})") from None
    if not isinstance(hashes, dict):
        raise CheckpointError(f"{path}: no 'sha256' table of file hashes")
    for name, expected in hashes.items():
        file = directory / name
        if not file.is_file():
            raise CheckpointError(f"{file}: missing (listed in {MANIFEST_FILE})")
        actual = _file_sha256(file)
        if actual != expected:
            raise CheckpointError(
                f"{file}: content hash {actual[:16]} differs from {str(expected)[:16]} in "
                f"{MANIFEST_FILE}: the file changed or is corrupt since it was saved"
            )
    return True


def read_config(directory: str | Path) -> WorldModelConfig:
    path = Path(directory) / CONFIG_FILE
    if not path.is_file():
        raise CheckpointError(f"{path}: missing (not a world-model checkpoint directory?)")
    try:
        return load_yaml(WorldModelConfig, path)
    except ConfigError as exc:
        raise CheckpointError(str(exc)) from None


def read_meta(directory: str | Path) -> dict:
    """The checkpoint's extra metadata ({} when it has none)."""
    path = Path(directory) / META_FILE
    if not path.is_file():
        return {}
    try:
        return yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise CheckpointError(f"{path}: not valid YAML ({exc})") from None


def read_weights(directory: str | Path) -> dict[str, torch.Tensor]:
    path = Path(directory) / WEIGHTS_FILE
    if not path.is_file():
        raise CheckpointError(f"{path}: missing")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: corrupt or truncated safetensors file ({exc})") from None


def _config_differences(expected: dict, found: dict, prefix: str = "") -> list[str]:
    diffs = []
    for key in sorted(set(expected) | set(found)):
        where = f"{prefix}{key}"
        a, b = expected.get(key), found.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            diffs += _config_differences(a, b, f"{where}.")
        elif a != b:
            diffs.append(f"{where}: expected {a!r}, checkpoint has {b!r}")
    return diffs


def check_state(model: torch.nn.Module, tensors: dict[str, torch.Tensor], source: str) -> None:
    """Refuse weights that do not fit `model`, naming every offending tensor."""
    expected = model.state_dict()
    problems = [f"missing tensor {k!r}" for k in expected if k not in tensors]
    problems += [f"unexpected tensor {k!r}" for k in tensors if k not in expected]
    for key, value in expected.items():
        found = tensors.get(key)
        if found is None:
            continue
        if found.shape != value.shape:
            problems.append(
                f"tensor {key!r}: shape {tuple(found.shape)} in file, "
                f"model expects {tuple(value.shape)}"
            )
        elif found.dtype != value.dtype:
            problems.append(f"tensor {key!r}: dtype {found.dtype} in file, model {value.dtype}")
    if problems:
        shown = "; ".join(problems[:10])
        more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
        raise CheckpointError(f"{source}: does not match the model: {shown}{more}")


def load_checkpoint(
    directory: str | Path,
    device: str | torch.device = "cpu",
    expected: WorldModelConfig | None = None,
) -> WorldModel:
    """Rebuild the WorldModel saved in `directory`.

    With `expected`, the stored config must equal it (the differing keys are listed).
    """
    directory = Path(directory)
    verify_manifest(directory)
    cfg = read_config(directory)
    if expected is not None:
        diffs = _config_differences(to_dict(expected), to_dict(cfg))
        if diffs:
            raise CheckpointError(
                f"{directory / CONFIG_FILE}: config differs from the expected one: "
                + "; ".join(diffs)
            )
    tensors = read_weights(directory)
    model = WorldModel(cfg)
    check_state(model, tensors, str(directory / WEIGHTS_FILE))
    model.load_state_dict(tensors, strict=True)
    return model.to(device)


def checkpoint_hash(directory: str | Path) -> str:
    """SHA-256 of the weights file's bytes and the canonical config: a stable cache key.

    Metadata (meta.yaml) is not part of it; the same weights under the same config always
    hash the same, whatever directory or machine they are on.
    """
    directory = Path(directory)
    digest = hashlib.sha256()
    path = directory / WEIGHTS_FILE
    try:
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: missing") from None
    digest.update(json.dumps(to_dict(read_config(directory)), sort_keys=True).encode())
    return digest.hexdigest()
