"""Random (B, T) sequence windows across episodes, in the world model's batch format.

Episodes are split into train/validation by episode index (a seeded permutation), so no
window of a validation episode is ever trained on. Decoded episodes are kept in a small
LRU cache: memory stays bounded by `cache_episodes`, whatever the dataset size.
Instruction embeddings are computed once per distinct instruction.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch

from vla_wm_ros.data.episode import Episode
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


def episode_arrays(episode: Episode, goal: np.ndarray, task_index: int) -> dict[str, np.ndarray]:
    """Per-step arrays of one episode in the RSSM's time alignment (ARCHITECTURE.md).

    Row t: observation t, the action taken at t, the previous action (zero at t = 0), the
    reward of arriving at t (the stored next.reward of row t-1; zero at t = 0).
    """
    length = episode.length
    prev_action = np.zeros_like(episode.action)
    prev_action[1:] = episode.action[:-1]
    reward = np.zeros(length, dtype=np.float32)
    reward[1:] = episode.reward[:-1]
    is_first = np.zeros(length, dtype=bool)
    is_first[0] = True
    is_terminal = np.zeros(length, dtype=bool)
    is_terminal[1:] = episode.terminated[:-1]
    return {
        "image": np.ascontiguousarray(episode.images.transpose(0, 3, 1, 2)),
        "proprio": episode.state.astype(np.float32),
        "action": episode.action.astype(np.float32),
        "prev_action": prev_action,
        "reward": reward,
        "success": np.concatenate([[False], episode.success[:-1]]),
        "is_first": is_first,
        "is_terminal": is_terminal,
        "goal": np.broadcast_to(goal, (length, goal.shape[0])),
        "task_index": np.full(length, task_index, dtype=np.int64),
    }


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
        self._cache: OrderedDict[int, dict[str, np.ndarray]] = OrderedDict()
        self._cache_size = max(1, cache_episodes)

    @property
    def goal_dim(self) -> int:
        return int(next(iter(self.goals.values())).shape[0])

    def _arrays(self, index: int) -> dict[str, np.ndarray]:
        arrays = self._cache.pop(index, None)
        if arrays is None:
            meta = self.dataset.episodes[index]
            arrays = episode_arrays(
                self.dataset.episode(index),
                self.goals[meta.instruction],
                self.task_names.index(meta.task_name),
            )
        self._cache[index] = arrays
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return arrays

    def sample(self) -> dict[str, torch.Tensor]:
        """One batch: dict of tensors (B, T, ...)."""
        picks = self.rng.choice(len(self.episodes), size=self.batch_size, p=self._weights)
        rows: dict[str, list[np.ndarray]] = {}
        for pick in picks:
            meta = self.episodes[pick]
            start = int(self.rng.integers(0, meta.length - self.seq_len + 1))
            for key, value in self._arrays(meta.index).items():
                rows.setdefault(key, []).append(value[start : start + self.seq_len])
        return {key: torch.from_numpy(np.stack(value)) for key, value in rows.items()}

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        while True:
            yield self.sample()
