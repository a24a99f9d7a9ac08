"""A dataset's catalogue: its instructions and its episodes, from LeRobot v3.0 or v2.1 metadata.

The two versions keep tasks and episodes in different files (parquet tables in v3.0, JSON
lines in v2.1) and name data files differently; this is the one place that knows both, so
the reader sees one list of `EpisodeMeta` whichever version it opened.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vla_wm_ros.data import layout as L
from vla_wm_ros.data.checked_reads import read_jsonl, read_table
from vla_wm_ros.data.features import Camera
from vla_wm_ros.data.layout import DatasetError
from vla_wm_ros.data.meta_tables import task_column


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


def is_v2(info: dict) -> bool:
    return str(info.get("codebase_version", "")).startswith("v2")


def load_instructions(root: Path, info: dict) -> list[str]:
    """The task texts, in task_index order."""
    if is_v2(info):
        rows = read_jsonl(root / "meta" / "tasks.jsonl")
        pairs = [(r["task_index"], r["task"]) for r in rows]
    else:
        tasks = read_table(root / L.TASKS_PATH)
        column = task_column(tasks)
        if column is None or "task_index" not in tasks.column_names:
            raise DatasetError(
                f"{root / L.TASKS_PATH}: no task text and task_index columns "
                f"(has {tasks.column_names})"
            )
        pairs = zip(tasks["task_index"].to_pylist(), tasks[column].to_pylist(), strict=True)
    return [task for _, task in sorted(pairs)]


def load_episode_rows(root: Path, info: dict) -> list[dict]:
    """The episode metadata rows, by episode_index, checked against info.json's totals."""
    if is_v2(info):
        rows = read_jsonl(root / "meta" / "episodes.jsonl")
        start = 0
        for row in sorted(rows, key=lambda r: r["episode_index"]):
            row["dataset_from_index"], start = start, start + row["length"]
        where = root / "meta" / "episodes.jsonl"
    else:
        paths = sorted((root / "meta" / "episodes").glob("chunk-*/file-*.parquet"))
        if not paths:
            raise DatasetError(f"{root / 'meta' / 'episodes'}: no episode metadata files")
        rows = [row for p in paths for row in read_table(p).to_pylist()]
        where = paths[0].parent
    rows.sort(key=lambda r: r["episode_index"])
    info_path = root / L.INFO_PATH
    if [r["episode_index"] for r in rows] != list(range(len(rows))):
        raise DatasetError(f"{where}: episode indices are not 0..N-1")
    if len(rows) != info.get("total_episodes"):
        raise DatasetError(
            f"{info_path}: total_episodes is {info.get('total_episodes')} but "
            f"{where} lists {len(rows)}"
        )
    if sum(r["length"] for r in rows) != info.get("total_frames"):
        raise DatasetError(f"{info_path}: total_frames does not match the episode lengths")
    return rows


def episode_meta(
    root: Path, info: dict, row: dict, instructions: list[str], camera: Camera
) -> EpisodeMeta:
    """One episode's metadata row as an `EpisodeMeta`, its files named for `camera`."""
    index = row["episode_index"]
    tasks = row.get("tasks") or []
    instruction = row.get("instruction") or (tasks[0] if tasks else "")
    if instruction not in instructions:
        raise DatasetError(
            f"{root}: episode {index} has task {instruction!r}, which is not in the tasks table"
        )
    chunk = index // int(info.get("chunks_size", L.CHUNKS_SIZE))
    key = camera.key
    video_file, video_from = "", 0.0
    if is_v2(info):
        fmt = {"episode_chunk": chunk, "episode_index": index}
        data_file = info["data_path"].format(**fmt)
        if camera.video:
            video_file = info["video_path"].format(video_key=key, **fmt)
    else:
        data_file = info.get("data_path", L.DATA_PATH).format(
            chunk_index=row["data/chunk_index"], file_index=row["data/file_index"]
        )
        if camera.video:
            video_file = info["video_path"].format(
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
        task_index=instructions.index(instruction),
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
