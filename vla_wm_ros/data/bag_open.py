"""Opening a rosbag2 recording with `rosbags`, whatever form it comes in.

A rosbag2 folder (metadata.yaml, sqlite3 or MCAP storage), a folder whose metadata.yaml
was lost, or a single .mcap/.db3 file under any name: the storage is told by the file's
magic bytes, since rosbags picks it by the name. Bags without message definitions (Humble's
sqlite3) read through the Humble typestore.
"""

from __future__ import annotations

import contextlib
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from vla_wm_ros.data.layout import DatasetError

SQLITE_MAGIC = b"SQLite format 3\x00"
MCAP_MAGIC = b"\x89MCAP"
CUSTOM_PREFIX = "vla_wm."  # metadata.yaml custom_data keys our exporter writes


def storage_of(path: Path) -> str:
    """'sqlite3' or 'mcap' from the file's first bytes; DatasetError for anything else."""
    with path.open("rb") as f:
        head = f.read(16)
    if head.startswith(SQLITE_MAGIC):
        return "sqlite3"
    if head.startswith(MCAP_MAGIC):
        return "mcap"
    raise DatasetError(
        f"{path}: neither an MCAP nor a SQLite3 (rosbag2 .db3) file (starts with {head[:8]!r})"
    )


def _custom_data(folder: Path) -> dict[str, str]:
    try:
        meta = yaml.safe_load((folder / "metadata.yaml").read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise DatasetError(f"{folder / 'metadata.yaml'}: unreadable ({exc})") from None
    info = meta.get("rosbag2_bagfile_information") or {}
    custom = info.get("custom_data") or {}
    return {
        k[len(CUSTOM_PREFIX) :]: str(v) for k, v in custom.items() if k.startswith(CUSTOM_PREFIX)
    }


@dataclass
class OpenBag:
    reader: object  # rosbags.highlevel.AnyReader, open
    storage: str  # "mcap", "sqlite3" or "rosbag2 folder (mcap)", ... for messages
    custom: dict[str, str]  # our exporter's custom_data (vla_wm.* keys, prefix removed)


@contextlib.contextmanager
def open_bag(path: str | Path):
    """An `OpenBag` over `path` (closed when the block ends)."""
    from rosbags.highlevel import AnyReader, AnyReaderError
    from rosbags.typesys import Stores, get_typestore

    path = Path(path)
    if not path.exists():
        raise DatasetError(
            f"{path}: no such bag (a rosbag2 folder with metadata.yaml, or a .mcap/.db3 file)"
        )
    custom: dict[str, str] = {}
    storage = "rosbag2 folder"
    with tempfile.TemporaryDirectory(prefix="bag-") as tmp:
        target = path
        if path.is_dir():
            files = sorted([*path.glob("*.mcap"), *path.glob("*.db3")])
            if (path / "metadata.yaml").is_file():
                custom = _custom_data(path)
                storage += f" ({', '.join(sorted({storage_of(f) for f in files})) or 'empty'})"
            elif len(files) == 1:  # metadata.yaml lost: the storage file alone is the bag
                target = files[0]
            else:
                raise DatasetError(
                    f"{path}: a folder without metadata.yaml and with {len(files)} storage "
                    "files (.mcap/.db3); not a rosbag2 bag"
                )
        if target.is_file():
            storage = storage_of(target)
            suffix = ".db3" if storage == "sqlite3" else ".mcap"
            if target.suffix != suffix:  # rosbags picks the storage by the file name
                link = Path(tmp) / f"bag{suffix}"
                link.symlink_to(target.absolute())
                target = link
        reader = AnyReader([target], default_typestore=get_typestore(Stores.ROS2_HUMBLE))
        try:
            reader.open()
        except (AnyReaderError, OSError, ValueError, KeyError, EOFError) as exc:
            raise DatasetError(f"{path}: cannot read this {storage} bag ({exc})") from None
        try:
            yield OpenBag(reader, storage, custom)
        finally:
            reader.close()
