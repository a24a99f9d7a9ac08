"""An episode's per-step arrays in the RSSM's time alignment, as every loader serves them."""

from __future__ import annotations

import numpy as np

from vla_wm_ros.data.episode import Episode


def step_arrays(episode: Episode) -> dict[str, np.ndarray]:
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
    arrays = {
        "image": np.ascontiguousarray(episode.images.transpose(0, 3, 1, 2)),
        "proprio": episode.state.astype(np.float32),
        "action": episode.action.astype(np.float32),
        "prev_action": prev_action,
        "reward": reward,
        "success": np.concatenate([[False], episode.success[:-1]]),
        "is_first": is_first,
        "is_terminal": is_terminal,
    }
    if episode.environment_state is not None:  # simulator data: object and goal poses
        arrays["environment_state"] = episode.environment_state.astype(np.float32)
    return arrays
