"""Recorded transitions under a frozen world model, and their cache on disk.

The offline value trains on (f_t, a_t, r_t, f_{t+1}, goal) rows; filtering every episode
through the world model is the slow part of a value run, so the rows are kept in one
safetensors file stamped with what they were filtered from, and reused when that matches.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import Tensor

from vla_wm_ros.data.loader import Embedder
from vla_wm_ros.data.reader import EpisodeDataset
from vla_wm_ros.models.world_model import WorldModel
from vla_wm_ros.training.frozen_features import filtered_episodes

TRANSITIONS_FILE = "value_transitions.safetensors"


class Transitions(NamedTuple):
    """Recorded transitions under the frozen world model; row i of every tensor."""

    feature: Tensor  # (M, F) posterior feature at t
    action: Tensor  # (M, A) action taken at t
    reward: Tensor  # (M,) reward that action earned (next.reward of row t)
    next_feature: Tensor  # (M, F) posterior feature at t + 1
    not_terminal: Tensor  # (M,) 0 where t + 1 ended the episode as terminal
    goal_index: Tensor  # (M,) row of `goals`
    episode: Tensor  # (M,) dataset episode index
    step: Tensor  # (M,) t
    goals: Tensor  # (K, G) instruction embeddings

    def select(self, rows: Tensor) -> Transitions:
        return Transitions(*(x[rows] for x in self[:-1]), self.goals)


@torch.no_grad()
def filter_transitions(
    wm: WorldModel,
    dataset: EpisodeDataset,
    episodes: list[int],
    embedder: Embedder,
    batch: int,
    progress: bool = True,
) -> Transitions:
    """Filter `episodes` with wm (posterior mode) into transitions; goals embedded once."""
    metas = [dataset.episodes[i] for i in episodes]
    names = sorted({m.instruction for m in metas})
    goals = torch.as_tensor(np.asarray(embedder(names)), dtype=torch.float32)
    parts: dict[str, list[Tensor]] = {}
    usable = [m for m in metas if m.length >= 2]
    for chunk, stacked, feature in filtered_episodes(
        wm, dataset, usable, batch, progress, "value: filtering episodes"
    ):
        n, length = feature.shape[:2]
        rows = {
            "feature": feature[:, :-1],
            "next_feature": feature[:, 1:],
            "action": stacked["action"][:, :-1],
            # arrays' reward row t+1 is the stored next.reward of row t
            "reward": stacked["reward"][:, 1:],
            "not_terminal": ~stacked["is_terminal"][:, 1:],
            "goal_index": torch.tensor([names.index(m.instruction) for m in chunk])
            .view(n, 1)
            .expand(n, length - 1),
            "episode": torch.tensor([m.index for m in chunk]).view(n, 1).expand(n, length - 1),
            "step": torch.arange(length - 1).view(1, -1).expand(n, length - 1),
        }
        for key, value in rows.items():
            parts.setdefault(key, []).append(value.reshape(n * (length - 1), *value.shape[2:]))
    cat = {k: torch.cat(v).contiguous() for k, v in parts.items()}
    return Transitions(
        feature=cat["feature"].float(),
        action=cat["action"].float(),
        reward=cat["reward"].float(),
        next_feature=cat["next_feature"].float(),
        not_terminal=cat["not_terminal"].float(),
        goal_index=cat["goal_index"].long(),
        episode=cat["episode"].long(),
        step=cat["step"].long(),
        goals=goals,
    )


def save_transitions(data: Transitions, path: Path, source: str) -> None:
    tensors = {k: v.contiguous() for k, v in data._asdict().items()}
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp), {"source": source})
    tmp.replace(path)


def transitions_source(path: Path) -> str | None:
    """What a transitions file was filtered from (checkpoint hash, data, policies)."""
    try:
        with safe_open(str(path), "pt") as f:
            return (f.metadata() or {}).get("source")
    except (OSError, SafetensorError):
        return None


def load_transitions(path: Path) -> Transitions:
    tensors = load_file(str(path))
    missing = [k for k in Transitions._fields if k not in tensors]
    if missing:
        raise ValueError(f"{path}: missing tensor(s) {', '.join(missing)}")
    return Transitions(**{k: tensors[k] for k in Transitions._fields})


def returns_to_go(data: Transitions, gamma: float) -> Tensor:
    """Discounted sum of recorded rewards from each transition to its episode's end."""
    out = torch.zeros_like(data.reward)
    order = np.lexsort((-data.step.numpy(), data.episode.numpy()))
    running, last_episode = 0.0, None
    for i in order.tolist():
        episode = int(data.episode[i])
        if episode != last_episode:
            running, last_episode = 0.0, episode
        running = float(data.reward[i]) + gamma * running * float(data.not_terminal[i])
        out[i] = running
    return out
