"""Behaviour-cloning rows on a frozen world model's features: (feature, goal) -> label.

DAgger keeps the world model frozen, so the belief feature of every recorded frame is
fixed once the episode has been filtered. The actor updates then read (feature, goal,
expert label) rows sampled from memory instead of re-running the encoder and the RSSM
filter over fresh windows every update: the loss is the same actor NLL
(`stages.actor_nll`), on features filtered from each episode's first frame.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from vla_wm_ros.data.layout import DatasetError
from vla_wm_ros.data.loader import Embedder, split_episodes
from vla_wm_ros.data.reader import EpisodeDataset
from vla_wm_ros.models.world_model import WorldModel
from vla_wm_ros.training.frozen_features import filtered_episodes
from vla_wm_ros.training.stages import actor_nll


class LabelledFeatures:
    """A growing table of frames: feature (N, F) float32, label (N, A), goal row (N,)."""

    def __init__(self) -> None:
        self._goal_rows: dict[str, int] = {}
        self._goals: list[Tensor] = []
        self._parts: list[tuple[Tensor, Tensor, Tensor]] = []
        self._table: tuple[Tensor, Tensor, Tensor, Tensor] | None = None

    def add(self, feature: Tensor, label: Tensor, instruction: str, goal: np.ndarray) -> None:
        """One episode's frames (T, F) and labels (T, A), all under one instruction."""
        if feature.shape[0] != label.shape[0]:
            raise ValueError(f"features {tuple(feature.shape)} and labels {tuple(label.shape)}")
        row = self._goal_rows.setdefault(instruction, len(self._goal_rows))
        if row == len(self._goals):
            self._goals.append(torch.as_tensor(np.asarray(goal), dtype=torch.float32))
        index = torch.full((feature.shape[0],), row, dtype=torch.long)
        self._parts.append((feature.float().contiguous(), label.float().contiguous(), index))
        self._table = None

    def __len__(self) -> int:
        return sum(part[0].shape[0] for part in self._parts)

    def table(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """(feature (N, F), label (N, A), goal_index (N,), goals (K, G)), concatenated once."""
        if self._table is None:
            if not self._parts:
                raise ValueError("no labelled frames")
            feature, label, index = (torch.cat(x) for x in zip(*self._parts, strict=True))
            self._parts = [(feature, label, index)]
            self._table = (feature, label, index, torch.stack(self._goals))
        return self._table

    def sample(self, rng: np.random.Generator, rows: int) -> tuple[Tensor, Tensor, Tensor]:
        """`rows` frames drawn uniformly with replacement: (feature, goal, label)."""
        feature, label, index, goals = self.table()
        pick = torch.from_numpy(rng.integers(0, feature.shape[0], rows))
        return feature[pick], goals[index[pick]], label[pick]


def feature_bc_loss(
    wm: WorldModel, rows: LabelledFeatures, rng: np.random.Generator, count: int
) -> Tensor:
    """The actor's NLL of the labels of `count` frames sampled from `rows`."""
    feature, goal, label = rows.sample(rng, count)
    return actor_nll(wm, feature, goal, label)


def demo_features(
    wm: WorldModel,
    dataset: EpisodeDataset,
    embedder: Embedder,
    policies: tuple[str, ...],
    split_seed: int,
    val_fraction: float,
    shard: tuple[int, int] = (0, 1),
    batch: int = 8,
    progress: bool = True,
) -> LabelledFeatures:
    """The training split's demonstrations (episodes of `policies`; this process's shard
    of them under torchrun) filtered once, labelled with the action taken at each frame;
    the caller opens and closes `dataset`."""
    train, _ = split_episodes(dataset.num_episodes, val_fraction, split_seed)
    rank, count = shard
    metas = [dataset.episodes[i] for i in train if dataset.episodes[i].policy in policies]
    metas = metas[rank::count]
    if not metas:
        raise DatasetError(
            f"{dataset.root}: no train episode with policy in {policies}"
            + (f" in shard {rank} of {count}" if count > 1 else "")
        )
    names = sorted({m.instruction for m in metas})
    goals = dict(zip(names, embedder(names), strict=True))
    out = LabelledFeatures()
    for chunk, stacked, feature in filtered_episodes(
        wm, dataset, metas, batch, progress, "dagger: filtering demonstrations"
    ):
        for meta, feat, label in zip(chunk, feature, stacked["action"], strict=True):
            out.add(feat, label, meta.instruction, goals[meta.instruction])
    return out
