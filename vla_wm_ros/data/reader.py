"""Reading a dataset: metadata checked on open, episodes read one at a time.

Reads what our writer produces (one row group per episode, PNG frames in the rows) and
LeRobot datasets written by any tool: v3.0 (several episodes per data file, frames in the
rows or in one mp4 per camera, our metadata absent) and v2.1 (a file per episode,
meta/episodes.jsonl). Every file problem (missing, truncated, corrupt, inconsistent with
the metadata) raises DatasetError naming the file.
"""

from __future__ import annotations

import dataclasses
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
from vla_wm_ros.data.features import pick_camera
from vla_wm_ros.data.images import decode_png
from vla_wm_ros.data.layout import DatasetError
from vla_wm_ros.data.spec import DatasetSpec
from vla_wm_ros.data.stats import Moments
from vla_wm_ros.data.video import read_frames

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
    row_group: int  # -1: the episode is a row range of its file, not one row group
    from_index: int
    video_file: str = ""  # mp4 of the camera, relative to the root; "" for frames in rows
    video_from: float = 0.0  # seconds into video_file where the episode starts


# Columns an episode needs; the others default (no reward, no success, done at the end).
_REQUIRED = (L.STATE, L.ACTION, "timestamp", "index")
_OPTIONAL = (L.REWARD, L.SUCCESS, L.DONE, L.TERMINATED, L.ENV_STATE)
_SCALARS = frozenset({L.REWARD, L.SUCCESS, L.DONE, L.TERMINATED, "timestamp", "index"})


def _read_json(path: Path) -> dict:
    if not path.is_file():
        raise DatasetError(
            f"{path}: missing; not a dataset directory, or its write was interrupted"
        )
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: corrupt or truncated JSON ({exc})") from None


def _read_jsonl(path: Path) -> list[dict]:
    if not path.is_file():
        raise DatasetError(f"{path}: missing")
    try:
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: corrupt or truncated JSON lines ({exc})") from None


def _read_table(path: Path) -> pa.Table:
    if not path.is_file():
        raise DatasetError(f"{path}: missing")
    try:
        return pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise DatasetError(f"{path}: corrupt or truncated parquet file ({exc})") from None


def _task_column(tasks: pa.Table) -> str | None:
    """The column holding the task text: "task", or the pandas index LeRobot writes it as
    (an unnamed index is stored as `__index_level_0__`)."""
    if "task" in tasks.column_names:
        return "task"
    pandas_meta = json.loads((tasks.schema.metadata or {}).get(b"pandas", b"{}"))
    for name in pandas_meta.get("index_columns", []):
        if isinstance(name, str) and pa.types.is_string(tasks.schema.field(name).type):
            return name
    return None


def _is_v2(info: dict) -> bool:
    return str(info.get("codebase_version", "")).startswith("v2")


class EpisodeDataset:
    """A dataset directory opened for reading.

    `camera` picks the image or video feature to read when the dataset has several
    (default: observation.image, else the first one info.json lists).
    """

    def __init__(self, root: str | Path, open_files: int = 8, camera: str | None = None) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            leftovers = sorted(self.root.parent.glob(f".{self.root.name}.old-*"))
            hint = (
                f"; an interrupted append left {leftovers[0]}: rename it back" if leftovers else ""
            )
            raise DatasetError(f"{self.root}: no such dataset directory{hint}")
        info_path = self.root / L.INFO_PATH
        self.info = _read_json(info_path)
        stats_path = self.root / L.STATS_PATH
        stats = _read_json(stats_path) if stats_path.is_file() else None
        self.spec = DatasetSpec.from_info(self.info, str(info_path), stats, camera)
        block = self.info.get("vla_wm") or {}
        self.camera = pick_camera(
            self.info["features"], camera or block.get("image_key"), str(info_path)
        )
        self.instructions: list[str] = self._load_tasks()
        self._episode_rows = self._load_episode_rows()
        self.episodes = [self._meta(row) for row in self._episode_rows]
        self.task_names: list[str] = list(block.get("task_names") or []) or list(
            dict.fromkeys(m.task_name for m in self.episodes)
        )
        self._columns: dict[str, set[str]] = {}
        self._check_files()
        self._files: OrderedDict[str, pq.ParquetFile] = OrderedDict()
        self._open_files = open_files

    # -- metadata ------------------------------------------------------------------------
    def _load_tasks(self) -> list[str]:
        if _is_v2(self.info):
            rows = _read_jsonl(self.root / "meta" / "tasks.jsonl")
            pairs = [(r["task_index"], r["task"]) for r in rows]
        else:
            tasks = _read_table(self.root / L.TASKS_PATH)
            column = _task_column(tasks)
            if column is None or "task_index" not in tasks.column_names:
                raise DatasetError(
                    f"{self.root / L.TASKS_PATH}: no task text and task_index columns "
                    f"(has {tasks.column_names})"
                )
            pairs = zip(tasks["task_index"].to_pylist(), tasks[column].to_pylist(), strict=True)
        return [task for _, task in sorted(pairs)]

    def _load_episode_rows(self) -> list[dict]:
        if _is_v2(self.info):
            rows = _read_jsonl(self.root / "meta" / "episodes.jsonl")
            start = 0
            for row in sorted(rows, key=lambda r: r["episode_index"]):
                row["dataset_from_index"], start = start, start + row["length"]
            where = self.root / "meta" / "episodes.jsonl"
        else:
            paths = sorted((self.root / "meta" / "episodes").glob("chunk-*/file-*.parquet"))
            if not paths:
                raise DatasetError(f"{self.root / 'meta' / 'episodes'}: no episode metadata files")
            rows = [row for p in paths for row in _read_table(p).to_pylist()]
            where = paths[0].parent
        rows.sort(key=lambda r: r["episode_index"])
        info_path = self.root / L.INFO_PATH
        if [r["episode_index"] for r in rows] != list(range(len(rows))):
            raise DatasetError(f"{where}: episode indices are not 0..N-1")
        if len(rows) != self.info.get("total_episodes"):
            raise DatasetError(
                f"{info_path}: total_episodes is {self.info.get('total_episodes')} but "
                f"{where} lists {len(rows)}"
            )
        if sum(r["length"] for r in rows) != self.info.get("total_frames"):
            raise DatasetError(f"{info_path}: total_frames does not match the episode lengths")
        return rows

    def _meta(self, row: dict) -> EpisodeMeta:
        index = row["episode_index"]
        tasks = row.get("tasks") or []
        instruction = row.get("instruction") or (tasks[0] if tasks else "")
        if instruction not in self.instructions:
            raise DatasetError(
                f"{self.root}: episode {index} has task {instruction!r}, which is not in "
                "the tasks table"
            )
        chunk = index // int(self.info.get("chunks_size", L.CHUNKS_SIZE))
        key = self.camera.key
        video_file, video_from = "", 0.0
        if _is_v2(self.info):
            fmt = {"episode_chunk": chunk, "episode_index": index}
            data_file = self.info["data_path"].format(**fmt)
            if self.camera.video:
                video_file = self.info["video_path"].format(video_key=key, **fmt)
        else:
            data_file = self.info.get("data_path", L.DATA_PATH).format(
                chunk_index=row["data/chunk_index"], file_index=row["data/file_index"]
            )
            if self.camera.video:
                video_file = self.info["video_path"].format(
                    video_key=key,
                    chunk_index=row[f"videos/{key}/chunk_index"],
                    file_index=row[f"videos/{key}/file_index"],
                )
                video_from = float(row[f"videos/{key}/from_timestamp"])
        return EpisodeMeta(
            index=index,
            length=row["length"],
            task_name=row.get("task_name") or instruction,
            instruction=instruction,
            task_index=self.instructions.index(instruction),
            seed=row.get("seed"),
            # Datasets from other tools are recorded demonstrations.
            policy=row.get("policy") or ("expert" if "policy" not in row else ""),
            success=bool(row.get("success", False)),
            data_file=data_file,
            row_group=row.get("data/row_group", -1),
            from_index=row["dataset_from_index"],
            video_file=video_file,
            video_from=video_from,
        )

    def _check_files(self) -> None:
        """Every data file exists, has a readable footer and the needed columns.

        An episode keeps its row group (read without touching the others) only when that
        row group holds exactly its rows: a dataset merged by another tool may list row
        groups that no longer match, and those episodes are read by index range instead.
        """
        by_file: dict[str, list[int]] = {}
        for i, meta in enumerate(self.episodes):
            by_file.setdefault(meta.data_file, []).append(i)
        wanted = set(_REQUIRED) | (set() if self.camera.video else {self.camera.key})
        if self.spec.environment_state_dim:  # declared in info.json: must be there
            wanted.add(L.ENV_STATE)
        for rel, indices in by_file.items():
            path = self.root / rel
            if not path.is_file():
                raise DatasetError(f"{path}: missing (listed in the episode metadata)")
            try:
                md = pq.read_metadata(path)
            except (pa.ArrowException, OSError) as exc:
                raise DatasetError(f"{path}: corrupt or truncated parquet file ({exc})") from None
            names = md.schema.to_arrow_schema().names
            missing = wanted - set(names)
            if missing:
                raise DatasetError(f"{path}: missing columns {sorted(missing)}")
            self._columns[rel] = set(names)
            leaves = [md.schema.column(j).path for j in range(md.num_columns)]
            index_col = leaves.index("index")  # a leaf column, not the arrow field number
            rows = 0
            for i in indices:
                meta = self.episodes[i]
                group = meta.row_group
                ok = group is not None and 0 <= group < md.num_row_groups
                if ok:
                    rg = md.row_group(group)
                    st = rg.column(index_col).statistics
                    ok = rg.num_rows == meta.length and (
                        st is None
                        or not st.has_min_max
                        or (st.min, st.max) == (meta.from_index, meta.from_index + meta.length - 1)
                    )
                if not ok:
                    self.episodes[i] = dataclasses.replace(meta, row_group=-1)
                rows += meta.length
            if rows > md.num_rows:
                raise DatasetError(f"{path}: holds {md.num_rows} rows, its episodes list {rows}")

    @property
    def fps(self) -> float:
        return self.spec.fps

    @property
    def num_episodes(self) -> int:
        return len(self.episodes)

    @property
    def num_frames(self) -> int:
        return int(self.info["total_frames"])

    @property
    def is_ours(self) -> bool:
        """Written by our DatasetWriter (so it can be appended to)."""
        return "vla_wm" in self.info

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
        """Raw columns of one episode: numpy arrays, and a list of image bytes for the image.

        `observation.image` means the dataset's camera (whatever its feature name); it is
        only in the rows when the camera is not stored as video (see `images`).
        """
        meta = self.episodes[index]
        path = self.root / meta.data_file
        if L.IMAGE in columns and self.camera.video:
            raise DatasetError(
                f"{self.root}: camera {self.camera.key} is stored as mp4 video, not in the "
                "rows; read its frames with images() or episode()"
            )
        names = [self.camera.key if c == L.IMAGE else c for c in columns]
        try:
            if meta.row_group >= 0:
                table = self._file(meta.data_file).read_row_group(meta.row_group, columns=names)
            else:
                bounds = [
                    ("index", ">=", meta.from_index),
                    ("index", "<", meta.from_index + meta.length),
                ]
                table = pq.read_table(path, columns=names, filters=bounds)
        except (pa.ArrowException, OSError) as exc:
            raise DatasetError(
                f"{path}: cannot read episode {index} (row group {meta.row_group}): {exc}"
            ) from None
        if table.num_rows != meta.length:
            raise DatasetError(
                f"{path}: episode {index} has {table.num_rows} rows, its metadata says "
                f"{meta.length}"
            )
        out = {}
        for name, column in zip(columns, names, strict=True):
            col = table.column(column).combine_chunks()
            if name == L.IMAGE:
                out[name] = col.field("bytes").to_pylist()
            elif pa.types.is_fixed_size_list(col.type) or pa.types.is_list(col.type):
                flat = col.values if pa.types.is_fixed_size_list(col.type) else col.flatten()
                try:
                    value = flat.to_numpy(zero_copy_only=False).reshape(len(col), -1)
                except ValueError:
                    raise DatasetError(f"{path}: episode {index}: {column} is ragged") from None
                out[name] = value[:, 0] if name in _SCALARS and value.shape[1] == 1 else value
            else:
                out[name] = col.to_numpy(zero_copy_only=False)
        if L.IMAGE in out and any(b is None for b in out[L.IMAGE]):
            raise DatasetError(f"{path}: episode {index} has frames without image bytes")
        return out

    def decode_images(self, index: int, frames: list[bytes]) -> np.ndarray:
        """(T, H, W, 3) uint8 from PNG/JPEG bytes; DatasetError naming the file on a bad frame."""
        out = np.empty((len(frames), *self.spec.image_shape), dtype=np.uint8)
        for t, data in enumerate(frames):
            try:
                decode_png(data, out[t])
            except ValueError as exc:
                path = self.root / self.episodes[index].data_file
                raise DatasetError(f"{path}: episode {index} frame {t}: {exc}") from None
        return out

    def images(self, index: int, timestamp: np.ndarray | None = None) -> np.ndarray:
        """(T, H, W, 3) uint8 frames of one episode, from the rows or the camera's mp4."""
        if not self.camera.video:
            return self.decode_images(index, self.read_columns(index, [L.IMAGE])[L.IMAGE])
        meta = self.episodes[index]
        if timestamp is None:
            timestamp = self.read_columns(index, ["timestamp"])["timestamp"]
        times = meta.video_from + np.asarray(timestamp, dtype=np.float64)
        return read_frames(self.root / meta.video_file, times, self.fps, self.spec.image_shape)

    def episode(self, index: int) -> Episode:
        """One whole episode, images decoded."""
        meta = self.episodes[index]
        present = self._columns[meta.data_file]
        columns = [*_REQUIRED[:3], *(c for c in _OPTIONAL if c in present)]
        if not self.spec.environment_state_dim:
            columns = [c for c in columns if c != L.ENV_STATE]
        if not self.camera.video:
            columns.append(L.IMAGE)
        raw = self.read_columns(index, columns)
        t = meta.length
        if self.camera.video:
            images = self.images(index, raw["timestamp"])
        else:
            images = self.decode_images(index, raw[L.IMAGE])
        done = raw.get(L.DONE)
        if done is None:
            done = np.zeros(t, dtype=bool)
            done[-1] = True
        return Episode(
            images=images,
            state=raw[L.STATE].astype(np.float32),
            action=raw[L.ACTION].astype(np.float32),
            reward=raw.get(L.REWARD, np.zeros(t)).astype(np.float32),
            success=raw.get(L.SUCCESS, np.zeros(t)).astype(bool),
            done=done.astype(bool),
            terminated=raw.get(L.TERMINATED, np.zeros(t)).astype(bool),
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
