"""The engine cache: compiled artifacts stored beside the checkpoint, built once per key.

An engine directory holds one artifact per unit plus `engine.yaml`, the manifest: the key
it was built for, the parity of each unit against eager, and how long the build took.
The key is everything the artifacts depend on: checkpoint hash, backend and its version,
torch version, device, precision and the unit signatures' version. A launch with the
same key loads the artifacts as they are; a changed checkpoint (or torch, or backend
version) gets a new directory; `force` rebuilds. A build is written to a temporary
directory and renamed into place, so a build killed halfway never looks complete.

Where: `<checkpoint>/engines/` when the checkpoint directory is writable, else
`$XDG_CACHE_HOME` (default `~/.cache`)`/vla_wm_ros/engines/<checkpoint hash>/` (a read-only
install share).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

# Bump when a unit's signature or semantics change: old engines are then never reused.
UNITS_VERSION = 1
MANIFEST = "engine.yaml"


@dataclass(frozen=True)
class EngineKey:
    checkpoint: str
    backend: str
    backend_version: str
    torch: str
    device: str
    precision: str
    units_version: int = UNITS_VERSION

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:16]

    def dirname(self) -> str:
        return f"{self.backend}-{self.device}-{self.precision}-{self.digest()}"


def default_root(model_dir: Path, checkpoint: str) -> Path:
    """`<model_dir>/engines`, or the user's cache ($XDG_CACHE_HOME, else ~/.cache) when
    the checkpoint is read-only (an /opt install's share/)."""
    if os.access(model_dir, os.W_OK):
        return model_dir / "engines"
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "vla_wm_ros" / "engines" / checkpoint[:16]


def read_manifest(directory: Path, key: EngineKey) -> dict | None:
    """The manifest of a complete build for `key`, or None (absent, other key, unreadable)."""
    path = directory / MANIFEST
    try:
        manifest = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        return None
    if not isinstance(manifest, dict) or manifest.get("key") != asdict(key):
        return None
    return manifest


def staging_dir(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=".build-", dir=root))


def commit(staging: Path, directory: Path, manifest: dict) -> None:
    """Write the manifest last, then move the finished build into place."""
    (staging / MANIFEST).write_text(yaml.safe_dump(manifest, sort_keys=False))
    if directory.exists():
        old = directory.with_name(f".old-{directory.name}-{os.getpid()}")
        directory.rename(old)
        shutil.rmtree(old)
    staging.rename(directory)
