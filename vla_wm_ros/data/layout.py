"""Where things live inside a dataset directory (LeRobotDataset v3 layout) and its errors."""

from __future__ import annotations

from pathlib import Path

CODEBASE_VERSION = "v3.0"  # LeRobotDataset layout version this follows
FORMAT_VERSION = 1  # version of our own additions (info.json "vla_wm" block)

INFO_PATH = "meta/info.json"
STATS_PATH = "meta/stats.json"
TASKS_PATH = "meta/tasks.parquet"
CHUNK_FILE = "chunk-{chunk_index:03d}/file-{file_index:03d}"
DATA_PATH = "data/" + CHUNK_FILE + ".parquet"
EPISODES_PATH = "meta/episodes/" + CHUNK_FILE + ".parquet"

CHUNKS_SIZE = 1000  # files per chunk directory
DATA_FILE_SIZE_MB = 100  # a data file is closed once it holds this much

IMAGE = "observation.image"
STATE = "observation.state"
ENV_STATE = "observation.environment_state"
ACTION = "action"
REWARD = "next.reward"
SUCCESS = "next.success"
DONE = "next.done"
TERMINATED = "next.terminated"


class DatasetError(Exception):
    """A dataset (or one of its files) is missing, corrupt, truncated or inconsistent."""


class DatasetExistsError(DatasetError):
    """The output directory already holds something and appending was not asked for."""


def data_path(file_number: int) -> str:
    chunk, file = divmod(file_number, CHUNKS_SIZE)
    return DATA_PATH.format(chunk_index=chunk, file_index=file)


def file_number(chunk_index: int, file_index: int) -> int:
    return chunk_index * CHUNKS_SIZE + file_index


def is_empty_dir(path: Path) -> bool:
    return path.is_dir() and not any(path.iterdir())
