"""The lock file that keeps two writers from updating one dataset at the same time."""

from __future__ import annotations

import fcntl
from pathlib import Path
from typing import IO

from vla_wm_ros.data.layout import DatasetError


def acquire_lock(root: Path) -> IO[str]:
    """Hold `.NAME.lock` beside `root`; DatasetError at once if another writer holds it."""
    lock = open(root.parent / f".{root.name}.lock", "w")  # noqa: SIM115
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        lock.close()
        raise DatasetError(f"{root}: another writer is updating this dataset") from None
    return lock


def release_lock(lock: IO[str]) -> None:
    Path(lock.name).unlink(missing_ok=True)
    fcntl.flock(lock, fcntl.LOCK_UN)
    lock.close()
