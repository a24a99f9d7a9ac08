"""Atomic dataset writes: everything goes to a staging directory that replaces the target.

A new dataset is built in `.NAME.staging-XXXX` beside the target and renamed into place
by `commit()`. An append builds the next version the same way, with the existing data
files hard-linked (not copied) into the staging directory, then swaps the directories.
Any failure before the swap removes the staging directory and leaves the target exactly
as it was; a lock file stops two writers from updating one dataset at the same time.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import uuid
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from vla_wm_ros.data import layout as L
from vla_wm_ros.data.episode import Episode
from vla_wm_ros.data.images import encode_png
from vla_wm_ros.data.layout import DatasetError, DatasetExistsError
from vla_wm_ros.data.reader import EPISODES_SCHEMA, EpisodeDataset, tasks_table
from vla_wm_ros.data.spec import DatasetSpec
from vla_wm_ros.data.stats import Moments, image_moments

# Stats kept in meta/stats.json: feature -> episode attribute.
_STATS_FIELDS = {
    L.STATE: "state",
    L.ENV_STATE: "environment_state",
    L.ACTION: "action",
    L.REWARD: "reward",
}


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")


def _link_or_copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


class DatasetWriter:
    """Adds episodes to a new dataset (or, with append=True, to an existing one).

    Use as a context manager: the data appears at `root` only when the block ends
    without an exception.
    """

    def __init__(
        self,
        root: str | Path,
        spec: DatasetSpec | None = None,
        *,
        append: bool = False,
        data_file_size_mb: float = L.DATA_FILE_SIZE_MB,
    ) -> None:
        self.root = Path(root).absolute()
        self.root.parent.mkdir(parents=True, exist_ok=True)
        self._lock = self._acquire_lock()
        try:
            existing = self._open_existing(append)
            if existing is not None:
                problems = existing.spec.mismatches(spec) if spec is not None else []
                if problems:
                    raise DatasetError(f"{self.root}: cannot append: " + "; ".join(problems))
                spec = existing.spec
            if spec is None:
                raise ValueError("a DatasetSpec is required to create a new dataset")
            spec.validate()
            self.spec = spec
            self._staging = self.root.parent / f".{self.root.name}.staging-{uuid.uuid4().hex[:8]}"
            self._staging.mkdir()
        except BaseException:
            self._release_lock()
            raise
        self._max_file_bytes = int(data_file_size_mb * 1024 * 1024)
        self._schema = spec.arrow_schema()
        self._writer: pq.ParquetWriter | None = None
        self._file_bytes = 0
        self._row_groups = 0
        self._finished = False
        self._start(existing)

    # -- setup ---------------------------------------------------------------------------
    def _acquire_lock(self):
        lock = open(self.root.parent / f".{self.root.name}.lock", "w")  # noqa: SIM115
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.close()
            raise DatasetError(f"{self.root}: another writer is updating this dataset") from None
        return lock

    def _release_lock(self) -> None:
        Path(self._lock.name).unlink(missing_ok=True)
        fcntl.flock(self._lock, fcntl.LOCK_UN)
        self._lock.close()

    def _open_existing(self, append: bool) -> EpisodeDataset | None:
        if not self.root.exists() or L.is_empty_dir(self.root):
            return None
        if not append:
            raise DatasetExistsError(
                f"{self.root}: already exists and is not empty; choose another output "
                "directory or append to it (--append)"
            )
        existing = EpisodeDataset(self.root)
        if not existing.is_ours:
            raise DatasetError(
                f"{self.root}: written by another tool (no vla_wm block in meta/info.json); "
                "append to a copy made with `vla-wm data import`"
            )
        return existing

    def _start(self, existing: EpisodeDataset | None) -> None:
        self._tasks: dict[str, int] = {}
        self._task_names: list[str] = []
        self._episodes: list[dict] = []
        self._moments: dict[str, Moments] = {}
        self._next_episode = 0
        self._next_frame = 0
        self._next_file = 0
        if existing is None:
            return
        self._tasks = {text: i for i, text in enumerate(existing.instructions)}
        self._task_names = list(existing.task_names)
        self._episodes = existing.episode_rows()
        self._moments = existing.moments()
        self._next_episode = existing.num_episodes
        self._next_frame = existing.num_frames
        files = {m.data_file for m in existing.episodes}
        for rel in files:
            _link_or_copy(self.root / rel, self._staging / rel)
        self._next_file = 1 + max(
            L.file_number(r["data/chunk_index"], r["data/file_index"]) for r in self._episodes
        )

    # -- episodes ------------------------------------------------------------------------
    def _check(self, episode: Episode) -> None:
        episode.validate()
        spec = self.spec
        checks = [
            ("images", episode.images.shape[1:], tuple(spec.image_shape)),
            ("state", episode.state.shape[1:], (spec.state_dim,)),
            ("action", episode.action.shape[1:], (spec.action_dim,)),
        ]
        env_state = episode.environment_state
        env_dim = (env_state.shape[1],) if env_state is not None else (0,)
        checks.append(("environment_state", env_dim, (spec.environment_state_dim,)))
        for name, got, want in checks:
            if tuple(got) != tuple(want):
                raise ValueError(f"episode.{name}: per-step shape {got} does not match {want}")

    def _table(self, episode: Episode, index: int, task_index: int) -> pa.Table:
        t = episode.length
        images = [encode_png(frame) for frame in episode.images]
        image_col = pa.StructArray.from_arrays(
            [pa.array(images, pa.binary()), pa.nulls(t, pa.string())], names=["bytes", "path"]
        )

        def vectors(a: np.ndarray) -> pa.Array:
            a = np.ascontiguousarray(a, dtype=np.float32)
            return pa.FixedSizeListArray.from_arrays(pa.array(a.ravel()), a.shape[1])

        columns = {L.IMAGE: image_col, L.STATE: vectors(episode.state)}
        if self.spec.environment_state_dim:
            columns[L.ENV_STATE] = vectors(episode.environment_state)
        columns |= {
            L.ACTION: vectors(episode.action),
            L.REWARD: pa.array(episode.reward, pa.float32()),
            L.SUCCESS: pa.array(episode.success, pa.bool_()),
            L.DONE: pa.array(episode.done, pa.bool_()),
            L.TERMINATED: pa.array(episode.terminated, pa.bool_()),
            "timestamp": pa.array(episode.timestamp, pa.float32()),
            "frame_index": pa.array(np.arange(t, dtype=np.int64)),
            "episode_index": pa.array(np.full(t, index, dtype=np.int64)),
            "index": pa.array(np.arange(self._next_frame, self._next_frame + t, dtype=np.int64)),
            "task_index": pa.array(np.full(t, task_index, dtype=np.int64)),
        }
        return pa.Table.from_pydict(columns, schema=self._schema)

    def _file_for(self, nbytes: int) -> pq.ParquetWriter:
        full = self._file_bytes + nbytes > self._max_file_bytes and self._row_groups > 0
        if self._writer is not None and full:
            self._writer.close()
            self._writer = None
            self._next_file += 1
        if self._writer is None:
            path = self._staging / L.data_path(self._next_file)
            path.parent.mkdir(parents=True, exist_ok=True)
            self._writer = pq.ParquetWriter(path, self._schema)
            self._file_bytes = 0
            self._row_groups = 0
        return self._writer

    def add(self, episode: Episode) -> int:
        """Write one episode; returns its episode_index."""
        if self._finished:
            raise RuntimeError("this writer has already committed or aborted")
        self._check(episode)
        index = self._next_episode
        task_index = self._tasks.setdefault(episode.instruction, len(self._tasks))
        if episode.task not in self._task_names:
            self._task_names.append(episode.task)
        table = self._table(episode, index, task_index)
        writer = self._file_for(table.nbytes)
        writer.write_table(table, row_group_size=episode.length)
        chunk, file = divmod(self._next_file, L.CHUNKS_SIZE)
        self._episodes.append(
            {
                "episode_index": index,
                "tasks": [episode.instruction],
                "length": episode.length,
                "data/chunk_index": chunk,
                "data/file_index": file,
                "data/row_group": self._row_groups,
                "dataset_from_index": self._next_frame,
                "dataset_to_index": self._next_frame + episode.length,
                "meta/episodes/chunk_index": 0,
                "meta/episodes/file_index": 0,
                "task_name": episode.task,
                "instruction": episode.instruction,
                "task_index": task_index,
                "seed": episode.seed,
                "policy": episode.policy,
                "success": bool(episode.success.any()),
            }
        )
        self._file_bytes += table.nbytes
        self._row_groups += 1
        self._merge_stats(episode)
        self._next_episode += 1
        self._next_frame += episode.length
        return index

    def _merge_stats(self, episode: Episode) -> None:
        new = {L.IMAGE: image_moments(episode.images)}
        for key, attr in _STATS_FIELDS.items():
            value = getattr(episode, attr)
            if value is not None:
                new[key] = Moments.of(value.reshape(episode.length, -1))
        for key, m in new.items():
            self._moments[key] = self._moments[key].merge(m) if key in self._moments else m

    # -- finish --------------------------------------------------------------------------
    def _stats_json(self) -> dict:
        h, w, c = self.spec.image_shape
        out = {}
        for key, m in self._moments.items():
            if key == L.IMAGE:
                out[key] = m.to_json((c, 1, 1), count_divisor=h * w)
            else:
                out[key] = m.to_json((m.mean.size,))
        return out

    def _info_json(self) -> dict:
        spec = self.spec
        return {
            "codebase_version": L.CODEBASE_VERSION,
            "robot_type": spec.robot_type,
            "total_episodes": self._next_episode,
            "total_frames": self._next_frame,
            "total_tasks": len(self._tasks),
            "chunks_size": L.CHUNKS_SIZE,
            "data_files_size_in_mb": self._max_file_bytes / (1024 * 1024),
            "video_files_size_in_mb": 0,
            "fps": spec.fps,
            "splits": {"train": f"0:{self._next_episode}"},
            "data_path": L.DATA_PATH,
            "video_path": None,
            "features": spec.features(),
            "vla_wm": spec.info_block() | {"task_names": self._task_names},
        }

    def commit(self) -> Path:
        """Write the metadata and move the finished dataset to `root`."""
        if self._finished:
            raise RuntimeError("this writer has already committed or aborted")
        try:
            if self._writer is not None:
                self._writer.close()
                self._writer = None
            if not self._episodes:
                raise DatasetError(f"{self.root}: no episodes were written")
            meta = self._staging / L.EPISODES_PATH.format(chunk_index=0, file_index=0)
            meta.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(pa.Table.from_pylist(self._episodes, schema=EPISODES_SCHEMA), meta)
            instructions = sorted(self._tasks, key=self._tasks.get)
            pq.write_table(tasks_table(instructions), self._staging / L.TASKS_PATH)
            _write_json(self._staging / L.STATS_PATH, self._stats_json())
            _write_json(self._staging / L.INFO_PATH, self._info_json())
            self._swap()
        except BaseException:
            self.abort()
            raise
        self._finished = True
        self._release_lock()
        return self.root

    def _swap(self) -> None:
        if self.root.exists() and not L.is_empty_dir(self.root):
            old = self.root.parent / f".{self.root.name}.old-{uuid.uuid4().hex[:8]}"
            os.rename(self.root, old)
            os.rename(self._staging, self.root)
            shutil.rmtree(old)
        else:
            if self.root.exists():
                self.root.rmdir()
            os.rename(self._staging, self.root)

    def abort(self) -> None:
        """Drop everything written since the writer was opened."""
        if self._finished:
            return
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        shutil.rmtree(self._staging, ignore_errors=True)
        self._finished = True
        self._release_lock()

    def __enter__(self) -> DatasetWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()
