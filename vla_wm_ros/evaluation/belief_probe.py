"""What the belief knows: linear probes from filtered features to the simulator's state.

A planner can only steer towards what the latent carries. Meta-World records its full
state (39 floats: hand, object, goal) beside every frame; a ridge regression from the
world model's posterior features to a slice of it, fitted and scored on different
episodes (k-fold by episode), measures how well the belief locates that quantity. Scored
on an episode's first steps, before the hand moves, it isolates what the camera shows:
an expert's hand drifting towards the goal would otherwise reveal the goal by itself.

A checkpoint trained with a state head (on the belief) or a view-state head (on each
frame's image features) also has its own guess scored on the same rows: those heads were
fitted on the training data only, so their error on unseen placements is what carried over
rather than what 40 probe episodes can fit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from vla_wm_ros.data.layout import ENV_STATE
from vla_wm_ros.data.loader import Embedder
from vla_wm_ros.data.reader import EpisodeDataset
from vla_wm_ros.models.encoder import image_to_float
from vla_wm_ros.models.world_model import WorldModel
from vla_wm_ros.sim.state_layout import STATE_SLICES
from vla_wm_ros.training.value_data import filter_transitions


@dataclass
class ProbeConfig:
    targets: tuple[str, ...] = ("goal", "object")
    first_steps: int = 3  # score steps t < first_steps of each episode; 0: every step
    folds: int = 5
    ridge: float = 30.0  # L2 weight on standardised features
    policies: tuple[str, ...] = ("expert", "noisy-expert")


def ridge_cv(x: np.ndarray, y: np.ndarray, groups: np.ndarray, folds: int, ridge: float):
    """Out-of-fold predictions of y from x; rows of one group never straddle folds."""
    pred = np.zeros_like(y)
    for k in range(folds):
        fit, test = groups % folds != k, groups % folds == k
        if not fit.any() or not test.any():
            raise ValueError(f"ridge_cv: fold {k} is empty; need >= {folds} episodes")
        mu, sd = x[fit].mean(0), x[fit].std(0) + 1e-6
        a, b = (x[fit] - mu) / sd, (x[test] - mu) / sd
        centre = y[fit].mean(0)  # the intercept is not shrunk
        w = np.linalg.solve(a.T @ a + ridge * np.eye(a.shape[1]), a.T @ (y[fit] - centre))
        pred[test] = b @ w + centre
    return pred


def probe_task(
    wm: WorldModel,
    dataset: EpisodeDataset,
    episodes: list[int],
    embedder: Embedder,
    cfg: ProbeConfig,
) -> dict[str, dict[str, float]]:
    """Per target: mean Euclidean error (cm) of the probe, and of always guessing the mean."""
    data = filter_transitions(wm, dataset, episodes, embedder, batch=8, progress=False)
    keep = (
        (data.step < cfg.first_steps).numpy() if cfg.first_steps else np.ones(len(data.step), bool)
    )
    features = data.feature.numpy()[keep]
    episode, step = data.episode.numpy()[keep].tolist(), data.step.numpy()[keep].tolist()
    rows = list(zip(episode, step, strict=True))
    if not dataset.spec.environment_state_dim:
        raise ValueError(f"{dataset.root}: no environment state recorded (simulator data only)")
    # The state column alone: the frames were decoded once already, by the filter above.
    states = {i: dataset.read_columns(i, [ENV_STATE])[ENV_STATE] for i in episodes}
    groups = np.array([episodes.index(e) for e, _ in rows])
    heads = head_guesses(wm, dataset, features, rows)
    out = {}
    for name in cfg.targets:
        y = np.stack([states[e][t][STATE_SLICES[name]] for e, t in rows]).astype(np.float64)
        pred = ridge_cv(features.astype(np.float64), y, groups, cfg.folds, cfg.ridge)
        spread = ((y - y.mean(0)) ** 2).sum()
        out[name] = {
            "error_cm": _error_cm(pred, y),
            "mean_guess_error_cm": _error_cm(y.mean(0), y),
            "r2": round(float(1 - ((pred - y) ** 2).sum() / max(spread, 1e-12)), 3),
        } | {f"{head}_cm": _error_cm(g[:, STATE_SLICES[name]], y) for head, g in heads.items()}
    return out


def _error_cm(guess: np.ndarray, truth: np.ndarray) -> float:
    return round(float(np.linalg.norm(guess - truth, axis=1).mean() * 100), 2)


@torch.no_grad()
def head_guesses(
    wm: WorldModel, dataset: EpisodeDataset, features: np.ndarray, rows: list[tuple[int, int]]
) -> dict[str, np.ndarray]:
    """The full state as the checkpoint's own training-only heads guess it on these rows:
    `state_head` from the belief, `view_head` from each row's frame alone."""
    out = {}
    if wm.state_head is not None:
        feature = torch.as_tensor(features).to(next(wm.state_head.parameters()).dtype)
        out["state_head"] = wm.state_head(feature).double().numpy()
    if wm.view_state_head is not None:
        frames = {e: dataset.images(e) for e in {e for e, _ in rows}}
        image = torch.as_tensor(np.stack([frames[e][t] for e, t in rows])).permute(0, 3, 1, 2)
        seen = wm.encoder.image(image_to_float(image))
        out["view_head"] = wm.view_state_head(seen).double().numpy()
    return out


def probe_belief(
    wm: WorldModel,
    dataset: EpisodeDataset,
    tasks: list[str],
    embedder: Embedder,
    cfg: ProbeConfig,
) -> dict:
    """`probe_task` for each task's episodes of the configured policies."""
    wm.eval()
    report = {"first_steps": cfg.first_steps, "folds": cfg.folds, "ridge": cfg.ridge, "tasks": {}}
    for task in tasks:
        episodes = [
            m.index
            for m in dataset.episodes
            if m.task_name == task and m.policy in cfg.policies and m.length > cfg.first_steps
        ]
        if len(episodes) < cfg.folds:
            raise ValueError(
                f"{task}: {len(episodes)} episodes of {cfg.policies}; need {cfg.folds}"
            )
        report["tasks"][task] = {"episodes": len(episodes)} | probe_task(
            wm, dataset, episodes, embedder, cfg
        )
    return report
