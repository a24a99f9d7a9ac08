"""Reading a dataset: metadata checked on open, episodes read one row group at a time.

Every file problem (missing, truncated, corrupt, inconsistent with the metadata) raises
DatasetError naming the file.
"""

from __future__ import annotations

import functools
import json
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from vla_wm_ros.data import layout as L
from vla_wm_ros.data.episode import Episode
from vla_wm_ros.data.images import decode_png
from vla_wm_ros.data.layout import DatasetError
from vla_wm_ros.data.spec import DatasetSpec
from vla_wm_ros.data.stats import Moments

EPISODES_SCHEMA = pa.schema(
    [
        ("episode_index", pa.int64()),
        ("tasks", pa.list_(pa.string())),
        ("length", pa.int64()),
        ("data/chunk_index", pa.int64()),
        ("data/file_index", pa.int64()),
        ("data/row_group", pa.int64()),
        ("dataset_from_index", pa.int64()),
        ("dataset_to_index", pa.int64()),
        ("meta/episodes/chunk_index", pa.int64()),
        ("meta/episodes/file_index", pa.int64()),
        ("task_name", pa.string()),
        ("instruction", pa.string()),
        ("task_index", pa.int64()),
        ("seed", pa.int64()),
        ("policy", pa.string()),
        ("success", pa.bool_()),
    ]
)

# pandas reads meta/tasks.parquet with the instruction as the index, as LeRobot expects.
_PANDAS_TASKS_METADATA = {
    "index_columns": ["task"],
    "column_indexes": [
        {
            "name": None,
            "field_name": None,
            "pandas_type": "unicode",
            "numpy_type": "object",
            "metadata": {"encoding": "UTF-8"},
        }
    ],
    "columns": [
        {
            "name": "task_index",
            "field_name": "task_index",
            "pandas_type": "int64",
            "numpy_type": "int64",
            "metadata": None,
        },
        {
            "name": "task",
            "field_name": "task",
            "pandas_type": "unicode",
            "numpy_type": "object",
            "metadata": None,
        },
    ],
    "creator": {"library": "pyarrow", "version": pa.__version__},
    "pandas_version": "2.2.3",
}


def tasks_table(instructions: list[str]) -> pa.Table:
    """meta/tasks.parquet: one row per distinct instruction, task_index = row number."""
    table = pa.table(
        {
            "task_index": pa.array(range(len(instructions)), pa.int64()),
            "task": pa.array(instructions, pa.string()),
        }
    )
    return table.replace_schema_metadata({b"pandas": json.dumps(_PANDAS_TASKS_METADATA)})


@dataclass(frozen=True)
class EpisodeMeta:
    index: int
    length: int
    task_name: str
    instruction: str
    task_index: int  # row of meta/tasks.parquet (the instruction)
    seed: int | None
    policy: str
    success: bool
    data_file: str  # relative to the dataset root
    row_group: int
    from_index: int


def _read_json(path: Path) -> dict:
    if not path.is_file():
        raise DatasetError(
            f"{path}: missing; not a dataset directory, or its write was interrupted"
        )
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: corrupt or truncated JSON ({exc})") from None


def _read_table(path: Path) -> pa.Table:
    if not path.is_file():
        raise DatasetError(f"{path}: missing")
    try:
        return pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise DatasetError(f"{path}: corrupt or truncated parquet file ({exc})") from None


class EpisodeDataset:
    """A dataset directory opened for reading."""

    def __init__(self, root: str | Path, open_files: int = 8) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            leftovers = sorted(self.root.parent.glob(f".{self.root.name}.old-*"))
            hint = (
                f"; an interrupted append left {leftovers[0]}: rename it back" if leftovers else ""
            )
            raise DatasetError(f"{self.root}: no such dataset directory{hint}")
        info_path = self.root / L.INFO_PATH
        self.info = _read_json(info_path)
        self.spec = DatasetSpec.from_info(self.info, str(info_path))
        self.task_names: list[str] = list(self.info["vla_wm"].get("task_names", []))
        tasks = _read_table(self.root / L.TASKS_PATH)
        self.instructions: list[str] = [
            t
            for _, t in sorted(
                zip(tasks["task_index"].to_pylist(), tasks["task"].to_pylist(), strict=True)
            )
        ]
        self._episode_rows = self._load_episode_rows()
        self.episodes = [self._meta(row) for row in self._episode_rows]
        self._check_files()
        self._files: OrderedDict[str, pq.ParquetFile] = OrderedDict()
        self._open_files = open_files

    # -- metadata ------------------------------------------------------------------------
    def _load_episode_rows(self) -> list[dict]:
        paths = sorted((self.root / "meta" / "episodes").glob("chunk-*/file-*.parquet"))
        if not paths:
            raise DatasetError(f"{self.root / 'meta' / 'episodes'}: no episode metadata files")
        rows = [row for p in paths for row in _read_table(p).to_pylist()]
        rows.sort(key=lambda r: r["episode_index"])
        where = self.root / L.INFO_PATH
        if [r["episode_index"] for r in rows] != list(range(len(rows))):
            raise DatasetError(f"{paths[0].parent}: episode indices are not 0..N-1")
        if len(rows) != self.info.get("total_episodes"):
            raise DatasetError(
                f"{where}: total_episodes is {self.info.get('total_episodes')} but "
                f"meta/episodes lists {len(rows)}"
            )
        if sum(r["length"] for r in rows) != self.info.get("total_frames"):
            raise DatasetError(f"{where}: total_frames does not match the episode lengths")
        return rows

    def _meta(self, row: dict) -> EpisodeMeta:
        rel = L.DATA_PATH.format(
            chunk_index=row["data/chunk_index"], file_index=row["data/file_index"]
        )
        return EpisodeMeta(
            index=row["episode_index"],
            length=row["length"],
            task_name=row["task_name"],
            instruction=row["instruction"],
            task_index=row["task_index"],
            seed=row["seed"],
            policy=row["policy"] or "",
            success=bool(row["success"]),
            data_file=rel,
            row_group=row["data/row_group"],
            from_index=row["dataset_from_index"],
        )

    def _check_files(self) -> None:
        """Every data file exists, has a readable footer, the expected columns and row groups."""
        by_file: dict[str, list[EpisodeMeta]] = {}
        for meta in self.episodes:
            by_file.setdefault(meta.data_file, []).append(meta)
        wanted = set(self.spec.arrow_schema().names)
        for rel, metas in by_file.items():
            path = self.root / rel
            if not path.is_file():
                raise DatasetError(f"{path}: missing (listed in meta/episodes)")
            try:
                md = pq.read_metadata(path)
            except (pa.ArrowException, OSError) as exc:
                raise DatasetError(f"{path}: corrupt or truncated parquet file ({exc})") from None
            missing = wanted - set(md.schema.to_arrow_schema().names)
            if missing:
                raise DatasetError(f"{path}: missing columns {sorted(missing)}")
            for meta in metas:
                if meta.row_group >= md.num_row_groups or (
                    md.row_group(meta.row_group).num_rows != meta.length
                ):
                    raise DatasetError(
                        f"{path}: row group {meta.row_group} does not hold the "
                        f"{meta.length} frames of episode {meta.index}"
                    )

    @property
    def fps(self) -> float:
        return self.spec.fps

    @property
    def num_episodes(self) -> int:
        return len(self.episodes)

    @property
    def num_frames(self) -> int:
        return int(self.info["total_frames"])

    def episode_rows(self) -> list[dict]:
        """The rows of meta/episodes, as dicts (for writers that append)."""
        return [dict(r) for r in self._episode_rows]

    def moments(self) -> dict[str, Moments]:
        stats = _read_json(self.root / L.STATS_PATH)
        h, w, _ = self.spec.image_shape
        try:
            return {
                key: Moments.from_json(value, h * w if key == L.IMAGE else 1)
                for key, value in stats.items()
            }
        except (KeyError, TypeError, ValueError) as exc:
            raise DatasetError(
                f"{self.root / L.STATS_PATH}: invalid statistics ({exc!r})"
            ) from None

    @functools.cached_property
    def stats(self) -> dict:
        return _read_json(self.root / L.STATS_PATH)

    # -- data ----------------------------------------------------------------------------
    def _file(self, rel: str) -> pq.ParquetFile:
        handle = self._files.pop(rel, None)
        if handle is None:
            try:
                handle = pq.ParquetFile(self.root / rel)
            except (pa.ArrowException, OSError) as exc:
                raise DatasetError(f"{self.root / rel}: corrupt or truncated ({exc})") from None
        self._files[rel] = handle
        while len(self._files) > self._open_files:
            self._files.popitem(last=False)[1].close()
        return handle

    def read_columns(self, index: int, columns: list[str]) -> dict:
        """Raw columns of one episode: numpy arrays, and a list of PNG bytes for the image."""
        meta = self.episodes[index]
        path = self.root / meta.data_file
        try:
            table = self._file(meta.data_file).read_row_group(meta.row_group, columns=columns)
        except (pa.ArrowException, OSError) as exc:
            raise DatasetError(
                f"{path}: cannot read episode {index} (row group {meta.row_group}): {exc}"
            ) from None
        out = {}
        for name in columns:
            col = table.column(name).combine_chunks()
            if name == L.IMAGE:
                out[name] = col.field("bytes").to_pylist()
            elif pa.types.is_fixed_size_list(col.type):
                out[name] = col.values.to_numpy(zero_copy_only=False).reshape(len(col), -1)
            else:
                out[name] = col.to_numpy(zero_copy_only=False)
        if L.IMAGE in out and any(b is None for b in out[L.IMAGE]):
            raise DatasetError(f"{path}: episode {index} has frames without image bytes")
        return out

    def decode_images(self, index: int, frames: list[bytes]) -> np.ndarray:
        """(T, H, W, 3) uint8 from PNG bytes; DatasetError naming the file on a bad frame."""
        out = np.empty((len(frames), *self.spec.image_shape), dtype=np.uint8)
        for t, data in enumerate(frames):
            try:
                decode_png(data, out[t])
            except ValueError as exc:
                path = self.root / self.episodes[index].data_file
                raise DatasetError(f"{path}: episode {index} frame {t}: {exc}") from None
        return out

    def episode(self, index: int) -> Episode:
        """One whole episode, images decoded."""
        meta = self.episodes[index]
        columns = [
            L.IMAGE,
            L.STATE,
            L.ACTION,
            L.REWARD,
            L.SUCCESS,
            L.DONE,
            L.TERMINATED,
            "timestamp",
        ]
        if self.spec.environment_state_dim:
            columns.append(L.ENV_STATE)
        raw = self.read_columns(index, columns)
        return Episode(
            images=self.decode_images(index, raw[L.IMAGE]),
            state=raw[L.STATE].astype(np.float32),
            action=raw[L.ACTION].astype(np.float32),
            reward=raw[L.REWARD].astype(np.float32),
            success=raw[L.SUCCESS].astype(bool),
            done=raw[L.DONE].astype(bool),
            terminated=raw[L.TERMINATED].astype(bool),
            timestamp=raw["timestamp"].astype(np.float32),
            instruction=meta.instruction,
            task=meta.task_name,
            environment_state=raw[L.ENV_STATE].astype(np.float32)
            if self.spec.environment_state_dim
            else None,
            seed=meta.seed,
            policy=meta.policy,
        )

    def close(self) -> None:
        for handle in self._files.values():
            handle.close()
        self._files.clear()
