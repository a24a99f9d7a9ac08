"""The LeRobot v3 metadata tables: the meta/episodes schema and meta/tasks.parquet.

Kept apart from reader and writer because both need the same shapes: what we write must
read back, and tasks tables written by LeRobot (the task text as a pandas index) must read.
"""

from __future__ import annotations

import json

import pyarrow as pa

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


def task_column(tasks: pa.Table) -> str | None:
    """The column holding the task text: "task", or the pandas index LeRobot writes it as
    (an unnamed index is stored as `__index_level_0__`)."""
    if "task" in tasks.column_names:
        return "task"
    pandas_meta = json.loads((tasks.schema.metadata or {}).get(b"pandas", b"{}"))
    for name in pandas_meta.get("index_columns", []):
        if isinstance(name, str) and pa.types.is_string(tasks.schema.field(name).type):
            return name
    return None
