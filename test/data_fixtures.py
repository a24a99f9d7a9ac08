"""Datasets the tests write themselves: with the DatasetWriter (real files, no simulator),
or with the collector (real Meta-World episodes)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vla_wm_ros.data.episode import Episode
from vla_wm_ros.data.spec import DatasetSpec
from vla_wm_ros.data.writer import DatasetWriter


def colour_world(
    root: Path, episodes: int, steps: int, size: int, seed: int, append: bool = False
) -> None:
    """Episodes of a world whose frame is one colour c_t in [0, 1]^3 moved by the action:
    c_{t+1} = clip(c_t + 0.3 a_t[:3]); random actions; proprio is (c_t, 0); the reward of
    an action is how close the colour it leads to is to mid-grey, 1 - |c_{t+1} - 0.5|_1."""
    rng = np.random.default_rng(seed)
    spec = DatasetSpec(
        fps=10.0,
        image_shape=(size, size, 3),
        state_names=["r", "g", "b", "zero"],
        action_names=["dr", "dg", "db", "unused"],
        action_low=[-1.0] * 4,
        action_high=[1.0] * 4,
        source="test-colour-world",
    )
    with DatasetWriter(root, spec, append=append) as writer:
        for _ in range(episodes):
            colour = rng.uniform(0.2, 0.8, 3)
            actions = rng.uniform(-1, 1, (steps, 4)).astype(np.float32)
            colours, rewards = [], []
            for t in range(steps):
                colours.append(colour)
                colour = np.clip(colour + 0.3 * actions[t, :3], 0.0, 1.0)
                rewards.append(1.0 - np.abs(colour - 0.5).sum())
            colours = np.asarray(colours, dtype=np.float32)
            images = np.broadcast_to(
                (colours * 255).round().astype(np.uint8)[:, None, None], (steps, size, size, 3)
            )
            writer.add(
                Episode(
                    images=np.ascontiguousarray(images),
                    state=np.concatenate([colours, np.zeros((steps, 1), np.float32)], 1),
                    action=actions,
                    reward=np.asarray(rewards, np.float32),
                    success=np.zeros(steps, bool),
                    done=np.arange(steps) == steps - 1,
                    terminated=np.zeros(steps, bool),
                    timestamp=(np.arange(steps) / 10.0).astype(np.float32),
                    instruction="match the colour",
                    task="colour",
                    policy="random",
                )
            )


def meta_world_episodes(out: Path, steps: int) -> Path:
    """Six real Meta-World episodes at `out`: 2 tasks x (2 expert + 1 random), 64x64."""
    from vla_wm_ros.data.collect import Job, collect

    jobs = [
        Job(task, n, policy, 0, steps, 64, "orbit", False)
        for task in ("drawer-close", "reach")
        for policy, count in (("expert", 2), ("random", 1))
        for n in range(count)
    ]
    collect(out, jobs, workers=1, progress=False)
    return out
