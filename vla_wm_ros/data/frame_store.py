"""Every frame of a set of episodes decoded once into contiguous arrays (training speed).

The LRU path of `SequenceLoader` reads a parquet row group and decodes 150 PNGs whenever
a window falls in an episode it does not hold, and stacks each batch key by key in
Python: 0.2-0.35 s per 16 x 32 batch on the shared 2-core CPU, a fifth of a tuned stage-2
step (`vla-wm bench train`). Here the per-step arrays (RSSM time alignment, see
`alignment.step_arrays`) live in one array per key, so a batch is one fancy-index gather
per key. Memory: H*W*3 bytes per frame for the images (63,000 frames at 64x64: 774 MB).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import numpy as np

from vla_wm_ros.data.alignment import step_arrays
from vla_wm_ros.data.reader import EpisodeDataset


class FrameStore:
    """Decoded per-step arrays of `episodes`, concatenated; `gather` cuts batches of windows."""

    def __init__(
        self, dataset: EpisodeDataset, episodes: Sequence[int], progress: bool = False
    ) -> None:
        from tqdm import tqdm

        if not episodes:
            raise ValueError(f"{dataset.root}: a frame store needs at least one episode")
        metas = [dataset.episodes[i] for i in episodes]
        total = sum(m.length for m in metas)
        self.offsets = np.full(dataset.num_episodes, -1, dtype=np.int64)
        self.arrays: dict[str, np.ndarray] = {}
        start = 0
        bar = tqdm(
            metas, desc="decode episodes", unit="episode", disable=not progress, file=sys.stderr
        )
        for meta in bar:
            arrays = step_arrays(dataset.episode(meta.index))
            if not self.arrays:
                self.arrays = {
                    k: np.empty((total, *v.shape[1:]), dtype=v.dtype) for k, v in arrays.items()
                }
            for key, value in arrays.items():
                self.arrays[key][start : start + meta.length] = value
            self.offsets[meta.index] = start
            start += meta.length
        self.lengths = np.zeros(dataset.num_episodes, dtype=np.int64)
        self.lengths[[m.index for m in metas]] = [m.length for m in metas]

    @property
    def nbytes(self) -> int:
        return sum(v.nbytes for v in self.arrays.values())

    def holds(self, episode: int) -> bool:
        return 0 <= episode < len(self.offsets) and self.offsets[episode] >= 0

    def gather(
        self, episodes: np.ndarray, starts: np.ndarray, seq_len: int
    ) -> dict[str, np.ndarray]:
        """Windows [start, start + seq_len) of each episode: dict of (B, seq_len, ...) arrays."""
        episodes = np.asarray(episodes, dtype=np.int64)
        starts = np.asarray(starts, dtype=np.int64)
        missing = [int(e) for e in episodes if not self.holds(int(e))]
        if missing:
            raise KeyError(f"frame store: episode(s) {sorted(set(missing))} were not loaded")
        if np.any(starts < 0) or np.any(starts + seq_len > self.lengths[episodes]):
            raise IndexError(f"frame store: a window of {seq_len} steps runs past its episode")
        rows = (self.offsets[episodes] + starts)[:, None] + np.arange(seq_len)
        return {key: value[rows] for key, value in self.arrays.items()}
