"""Recorded episodes filtered once through a frozen world model.

What the runtime's belief filter and `ActorController` compute step by step: the RSSM
posterior mode, from each episode's first frame, fed the action executed before each
frame. With the world model frozen these features never change, so the consumers that
train a head on them (the offline value, DAgger's behaviour cloning) filter every
episode once and keep the features instead of re-filtering windows per update.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch import Tensor

from vla_wm_ros.data.alignment import step_arrays
from vla_wm_ros.data.catalog import EpisodeMeta
from vla_wm_ros.data.reader import EpisodeDataset
from vla_wm_ros.models.world_model import WorldModel


@torch.no_grad()
def filtered_episodes(
    wm: WorldModel,
    dataset: EpisodeDataset,
    metas: list[EpisodeMeta],
    batch: int,
    progress: bool = True,
    desc: str = "filtering episodes",
) -> Iterator[tuple[list[EpisodeMeta], dict[str, Tensor], Tensor]]:
    """Yield (episodes, their step arrays (B, T, ...), posterior-mode features (B, T, F)).

    Episodes of one length are filtered `batch` at a time (whole episodes, so every
    filter starts at the episode's first frame); the images are dropped after each chunk.
    """
    from tqdm import tqdm

    wm.eval()
    by_length: dict[int, list[EpisodeMeta]] = {}
    for meta in metas:
        by_length.setdefault(meta.length, []).append(meta)
    bar = tqdm(total=len(metas), desc=desc, disable=not progress)
    for group in by_length.values():
        for start in range(0, len(group), batch):
            chunk = group[start : start + batch]
            arrays = [step_arrays(dataset.episode(m.index)) for m in chunk]
            stacked = {k: torch.from_numpy(np.stack([a[k] for a in arrays])) for k in arrays[0]}
            # observe() checks that a goal is present; the filter itself never reads it
            stacked.setdefault("goal", torch.zeros(len(chunk), wm.cfg.goal_dim))
            feature = wm.feature(wm.observe(stacked, sample=False).posterior)
            yield chunk, stacked, feature
            bar.update(len(chunk))
    bar.close()
