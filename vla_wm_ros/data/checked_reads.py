"""A dataset's metadata files read with every failure raised as a DatasetError naming the file.

A missing, truncated or corrupt file is a problem with the user's data, so it is reported
as which file and why, not as a parser's traceback.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from vla_wm_ros.data.layout import DatasetError


def read_json(path: Path) -> dict:
    if not path.is_file():
        raise DatasetError(
            f"{path}: missing; not a dataset directory, or its write was interrupted"
        )
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: corrupt or truncated JSON ({exc})") from None


def read_jsonl(path: Path) -> list[dict]:
    if not path.is_file():
        raise DatasetError(f"{path}: missing")
    try:
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: corrupt or truncated JSON lines ({exc})") from None


def read_table(path: Path) -> pa.Table:
    if not path.is_file():
        raise DatasetError(f"{path}: missing")
    try:
        return pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise DatasetError(f"{path}: corrupt or truncated parquet file ({exc})") from None
