"""What one camera frame can tell about a scene: a small CNN trained from scratch on the
first frames of many placements reads the goal and object positions of new placements.

The belief probe (belief_probe.py) asks what a trained world model *does* hold; this asks
what the pixels *can* hold, for a camera, image size and goal marker, before anything is
trained on them: when the CNN reads the goal to ~1.5 cm and the belief to ~5.5 cm, the
view is not what limits the belief. Also a way to compare cameras for a new setup.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vla_wm_ros.sim.state_layout import STATE_SLICES

# torch is imported inside the functions that train: `vla-wm --help` builds this
# command's parser (and reads ViewProbeConfig) without it.

# Placement seeds: training and test ranges apart from each other, from the reserved
# closed-loop placements (9000-9009) and from collect's hashed seeds (< 2**31).
TRAIN_SEED_BASE = 2**31 + 500_000
TEST_SEED_BASE = 2**31 + 900_000
TARGETS = ("goal", "object")


@dataclass
class ViewProbeConfig:
    camera: str = "orbit"
    image_size: int = 64
    goal_marker_radius: float | None = 0.05
    placements: int = 1000  # training placements per task
    test_placements: int = 200
    steps: int = 3000  # CNN updates
    batch_size: int = 64
    lr: float = 1e-3
    seed: int = 0


def first_frames(task: str, cfg: ViewProbeConfig, seeds: range) -> tuple[np.ndarray, np.ndarray]:
    """(N, H, W, 3) uint8 first frames and (N, 6) goal + object positions (m)."""
    from vla_wm_ros.sim.env import MetaWorldEnv

    images, targets = [], []
    with MetaWorldEnv(
        task=task,
        image_size=cfg.image_size,
        camera=cfg.camera,
        goal_marker_radius=cfg.goal_marker_radius,
    ) as env:
        for seed in seeds:
            images.append(env.reset(seed=seed).image)
            targets.append(np.concatenate([env.state[STATE_SLICES[t]] for t in TARGETS]))
    return np.stack(images), np.stack(targets).astype(np.float32)


def frame_regressor(image_size: int, outputs: int):
    """Four stride-2 convolutions and an MLP: small enough to train in minutes on a CPU."""
    from torch import nn

    layers: list[nn.Module] = []
    channels = 3
    for width in (32, 64, 64, 128):
        layers += [nn.Conv2d(channels, width, 4, 2, 1), nn.SiLU()]
        channels = width
    side = image_size // 16
    return nn.Sequential(
        *layers,
        nn.Flatten(),
        nn.Linear(channels * side * side, 256),
        nn.SiLU(),
        nn.Linear(256, outputs),
    )


def _as_input(images: np.ndarray):
    import torch

    return torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255.0


def fit_regressor(images: np.ndarray, targets: np.ndarray, cfg: ViewProbeConfig):
    """Standardised-MSE fit with +-2 pixel shifts (so it reads positions, not pixels)."""
    import torch

    gen = torch.Generator().manual_seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    mean, std = targets.mean(0), targets.std(0) + 1e-6
    x, y = _as_input(images), torch.from_numpy((targets - mean) / std)
    model = frame_regressor(images.shape[1], targets.shape[1])
    opt = torch.optim.AdamW(model.parameters(), cfg.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, cfg.steps)
    for _ in range(cfg.steps):
        idx = torch.randint(0, len(x), (cfg.batch_size,), generator=gen)
        shift = torch.randint(-2, 3, (2,), generator=gen).tolist()
        batch = torch.roll(x[idx], shifts=shift, dims=(2, 3))
        loss = ((model(batch) - y[idx]) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    model.eval()
    return model, mean, std


def errors_cm(predicted: np.ndarray, truth: np.ndarray, train_mean: np.ndarray) -> dict:
    """Per target: mean and p90 distance (cm), and the training mean's distance (a guess
    that ignores the image)."""
    out = {}
    for k, name in enumerate(TARGETS):
        part = slice(3 * k, 3 * k + 3)
        dist = 100 * np.linalg.norm(predicted[:, part] - truth[:, part], axis=1)
        guess = 100 * np.linalg.norm(train_mean[part] - truth[:, part], axis=1)
        out[name] = {
            "cm": float(dist.mean()),
            "p90_cm": float(np.percentile(dist, 90)),
            "mean_guess_cm": float(guess.mean()),
        }
    return out


def probe_view(task: str, cfg: ViewProbeConfig) -> dict:
    """Train on `cfg.placements` first frames of `task`, score on new placements."""
    train_x, train_y = first_frames(
        task, cfg, range(TRAIN_SEED_BASE, TRAIN_SEED_BASE + cfg.placements)
    )
    test_x, test_y = first_frames(
        task, cfg, range(TEST_SEED_BASE, TEST_SEED_BASE + cfg.test_placements)
    )
    import torch

    model, mean, std = fit_regressor(train_x, train_y, cfg)
    with torch.no_grad():
        predicted = model(_as_input(test_x)).numpy() * std + mean
    return errors_cm(predicted, test_y, mean)
