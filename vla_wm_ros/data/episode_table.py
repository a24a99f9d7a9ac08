"""One episode as the rows of a data file: checked against the dataset's spec, then as arrow.

The writer's only job left is where the rows go; what a row holds (PNG frames, float32
vectors, the LeRobot index columns) is decided here, once.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from vla_wm_ros.data import layout as L
from vla_wm_ros.data.episode import Episode
from vla_wm_ros.data.images import encode_png
from vla_wm_ros.data.spec import DatasetSpec


def check_episode(spec: DatasetSpec, episode: Episode) -> None:
    """ValueError naming the field when a per-step shape differs from the spec's."""
    episode.validate()
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


def _vectors(a: np.ndarray) -> pa.Array:
    a = np.ascontiguousarray(a, dtype=np.float32)
    return pa.FixedSizeListArray.from_arrays(pa.array(a.ravel()), a.shape[1])


def episode_table(
    episode: Episode,
    spec: DatasetSpec,
    schema: pa.Schema,
    index: int,
    task_index: int,
    first_frame: int,
) -> pa.Table:
    """Episode `index` as rows of `schema`, its frames numbered from `first_frame`."""
    t = episode.length
    images = [encode_png(frame) for frame in episode.images]
    image_col = pa.StructArray.from_arrays(
        [pa.array(images, pa.binary()), pa.nulls(t, pa.string())], names=["bytes", "path"]
    )
    columns = {L.IMAGE: image_col, L.STATE: _vectors(episode.state)}
    if spec.environment_state_dim:
        columns[L.ENV_STATE] = _vectors(episode.environment_state)
    columns |= {
        L.ACTION: _vectors(episode.action),
        L.REWARD: pa.array(episode.reward, pa.float32()),
        L.SUCCESS: pa.array(episode.success, pa.bool_()),
        L.DONE: pa.array(episode.done, pa.bool_()),
        L.TERMINATED: pa.array(episode.terminated, pa.bool_()),
        "timestamp": pa.array(episode.timestamp, pa.float32()),
        "frame_index": pa.array(np.arange(t, dtype=np.int64)),
        "episode_index": pa.array(np.full(t, index, dtype=np.int64)),
        "index": pa.array(np.arange(first_frame, first_frame + t, dtype=np.int64)),
        "task_index": pa.array(np.full(t, task_index, dtype=np.int64)),
    }
    return pa.Table.from_pydict(columns, schema=schema)
