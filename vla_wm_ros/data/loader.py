"""Random (B, T) sequence windows across episodes, in the world model's batch format.

Episodes are split into train/validation by episode index (a seeded permutation), so no
window of a validation episode is ever trained on. Decoded episodes are kept in a small
LRU cache: memory stays bounded by `cache_episodes`, whatever the dataset size. Or, for
training, every frame is decoded once into a `FrameStore` shared by the loaders of a run
(one gather per batch key; the same batches as the LRU path, draw for draw).
Instruction embeddings are computed once per distinct instruction.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import torch

from vla_wm_ros.data.alignment import step_arrays
from vla_wm_ros.data.frame_store import FrameStore
from vla_wm_ros.data.layout import DatasetError
from vla_wm_ros.data.reader import EpisodeDataset

Embedder = Callable[[list[str]], np.ndarray]


def split_episodes(count: int, val_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """(train, val) episode indices; at least one of each when count >= 2."""
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    order = np.random.default_rng(seed).permutation(count).tolist()
    n_val = min(count - 1, max(1 if val_fraction > 0 else 0, round(count * val_fraction)))
    return sorted(order[n_val:]), sorted(order[:n_val])


def default_embedder() -> Embedder:
    from vla_wm_ros.language.encoder import SentenceEncoder

    return SentenceEncoder().embed


class SequenceLoader:
    """Iterates forever over random windows of `seq_len` steps from one split."""

    def __init__(
        self,
        dataset_dir: str | Path,
        batch_size: int,
        seq_len: int,
        split: str = "train",
        seed: int = 0,
        val_fraction: float = 0.1,
        cache_episodes: int = 64,
        embedder: Embedder | None = None,
        policies: tuple[str, ...] | None = None,
        split_seed: int | None = None,
        shard: tuple[int, int] = (0, 1),
        store: FrameStore | None = None,
        episodes: Sequence[int] | None = None,
    ) -> None:
        if split not in ("train", "val"):
            raise ValueError(f"split must be 'train' or 'val', got {split!r}")
        self.dataset = EpisodeDataset(dataset_dir)
        self.batch_size, self.seq_len = batch_size, seq_len
        # The split has its own seed so that loaders sampling differently (one per training
        # stage, evaluation) agree on which episodes are held out; default: `seed`.
        split_seed = seed if split_seed is None else split_seed
        train, val = split_episodes(self.dataset.num_episodes, val_fraction, split_seed)
        chosen = train if split == "train" else val
        metas = [self.dataset.episodes[i] for i in chosen]
        if episodes is not None:  # a named subset of the split (e.g. placements new to a model)
            outside = sorted(set(episodes) - set(chosen))
            if outside:
                raise DatasetError(
                    f"{dataset_dir}: episode(s) {outside[:8]} are not in the {split} split"
                )
            metas = [m for m in metas if m.index in set(episodes)]
        if policies is not None:
            metas = [m for m in metas if m.policy in policies]
        # Data-parallel training: process `rank` of `count` samples every count-th episode.
        rank, count = shard
        self.episodes = [m for m in metas if m.length >= seq_len][rank::count]
        if not self.episodes:
            raise DatasetError(
                f"{dataset_dir}: no {split} episode has {seq_len} or more steps"
                + (f" with policy in {policies}" if policies else "")
                + (f" in shard {rank} of {count}" if count > 1 else "")
            )
        lengths = np.array([m.length - seq_len + 1 for m in self.episodes], dtype=np.float64)
        self._weights = lengths / lengths.sum()  # every window equally likely
        embed = embedder or default_embedder()
        names = sorted({m.instruction for m in self.episodes})
        self.goals = dict(zip(names, embed(names), strict=True))
        self.task_names = sorted({m.task_name for m in self.dataset.episodes})
        self.rng = np.random.default_rng(seed + (0 if split == "train" else 1))
        missing = [m.index for m in self.episodes if store is not None and not store.holds(m.index)]
        if missing:
            raise DatasetError(f"{dataset_dir}: the frame store lacks episode(s) {missing[:5]}")
        self.store = store
        self._cache: OrderedDict[int, dict[str, np.ndarray]] = OrderedDict()
        self._cache_size = max(1, cache_episodes)

    @property
    def goal_dim(self) -> int:
        return int(next(iter(self.goals.values())).shape[0])

    def _arrays(self, index: int) -> dict[str, np.ndarray]:
        arrays = self._cache.pop(index, None)
        if arrays is None:
            arrays = step_arrays(self.dataset.episode(index))
        self._cache[index] = arrays
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return arrays

    def sample(self) -> dict[str, torch.Tensor]:
        """One batch: dict of tensors (B, T, ...)."""
        picks = self.rng.choice(len(self.episodes), size=self.batch_size, p=self._weights)
        metas = [self.episodes[p] for p in picks]
        starts = [int(self.rng.integers(0, m.length - self.seq_len + 1)) for m in metas]
        if self.store is not None:
            out = self.store.gather(
                np.array([m.index for m in metas]), np.array(starts), self.seq_len
            )
        else:
            rows: dict[str, list[np.ndarray]] = {}
            for meta, start in zip(metas, starts, strict=True):
                for key, value in self._arrays(meta.index).items():
                    rows.setdefault(key, []).append(value[start : start + self.seq_len])
            out = {key: np.stack(value) for key, value in rows.items()}
        goals = np.stack([self.goals[m.instruction] for m in metas])
        out["goal"] = np.repeat(goals[:, None], self.seq_len, axis=1)
        tasks = np.array([self.task_names.index(m.task_name) for m in metas], dtype=np.int64)
        out["task_index"] = np.repeat(tasks[:, None], self.seq_len, axis=1)
        return {key: torch.from_numpy(value) for key, value in out.items()}

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        while True:
            yield self.sample()
