"""World-model prediction quality on held-out episodes, against naive baselines.

For windows of `context + max(horizons)` steps from the validation split: the posterior
is filtered over the first `context` steps, then the prior is rolled open loop with the
recorded actions. At horizon k the imagined state is decoded and compared with the real
frame (observation space, MSE of pixels in [0, 1]) and with the posterior filtered over
the whole window (latent space, mean squared feature error). Baselines: copy the last
context frame / latent, and the mean frame / latent of the windows.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from vla_wm_ros.data.loader import Embedder, SequenceLoader
from vla_wm_ros.models.decoder import ObservationDecoder
from vla_wm_ros.models.rssm import RSSMState, state_at
from vla_wm_ros.models.world_model import WorldModel

HORIZONS = (1, 5, 10, 20, 50)


def _pixels(decoded: Tensor) -> Tensor:
    """Decoder output (target scale, centred) -> pixels in [0, 1]."""
    return (decoded + 0.5).clamp(0.0, 1.0)


def _psnr(mse: float) -> float:
    return float("inf") if mse <= 0 else 10.0 * math.log10(1.0 / mse)


@torch.no_grad()
def evaluate_world_model(
    wm: WorldModel,
    data: str | Path,
    batches: int = 8,
    batch_size: int = 8,
    context: int = 10,
    horizons: tuple[int, ...] = HORIZONS,
    seed: int = 0,
    val_fraction: float = 0.1,
    embedder: Embedder | None = None,
    split_seed: int = 0,
) -> dict:
    """Reconstruction, open-loop errors per horizon and baselines (see module docstring)."""
    wm.eval()
    horizons = tuple(sorted(horizons))
    seq_len = context + horizons[-1]
    loader = SequenceLoader(
        data,
        batch_size,
        seq_len,
        "val",
        seed=seed,
        val_fraction=val_fraction,
        embedder=embedder,
        split_seed=split_seed,
    )
    sums: dict[str, np.ndarray] = {}
    recon, feats_all = [], []
    for _ in range(batches):
        batch = loader.sample()
        truth = ObservationDecoder.image_target(batch["image"]) + 0.5  # (B, T, 3, H, W)
        post = wm.observe(batch, sample=False).posterior
        feat_post = wm.feature(post)
        feats_all.append(feat_post.flatten(0, 1))
        recon.append(((_pixels(wm.decoder(feat_post)["image"]) - truth) ** 2).mean().item())
        state = state_at(post, context - 1)
        imagined = []
        for t in range(context - 1, seq_len - 1):
            state = wm.rssm.imagine_step(state, batch["action"][:, t], sample=False)
            imagined.append(state)
        imag_feat = torch.stack([wm.feature(s) for s in imagined], 1)  # step k at [:, k-1]
        last_frame = truth[:, context - 1]
        mean_frame = truth.mean((0, 1))
        last_feat = feat_post[:, context - 1]
        mean_feat = feat_post.mean((0, 1))
        for k in horizons:
            t = context - 1 + k
            frame = _pixels(wm.decoder(imag_feat[:, k - 1])["image"])
            row = np.array(
                [
                    ((frame - truth[:, t]) ** 2).mean().item(),
                    ((last_frame - truth[:, t]) ** 2).mean().item(),
                    ((mean_frame - truth[:, t]) ** 2).mean().item(),
                    ((imag_feat[:, k - 1] - feat_post[:, t]) ** 2).mean().item(),
                    ((last_feat - feat_post[:, t]) ** 2).mean().item(),
                    ((mean_feat - feat_post[:, t]) ** 2).mean().item(),
                ]
            )
            sums[str(k)] = sums.get(str(k), 0) + row / batches
    feats = torch.cat(feats_all)
    mse = float(np.mean(recon))
    names = ("model", "copy_last", "mean")
    return {
        "episodes_val": len(loader.episodes),
        "val_episode_indices": sorted(m.index for m in loader.episodes),
        "windows": batches * batch_size,
        "context": context,
        "reconstruction": {"mse": mse, "psnr_db": _psnr(mse)},
        "open_loop": {
            k: {
                "obs_mse": dict(zip(names, map(float, v[:3]), strict=True)),
                "latent_mse": dict(zip(names, map(float, v[3:]), strict=True)),
            }
            for k, v in sums.items()
        },
        "latent": {
            "feature_dim": int(feats.shape[1]),
            "mean_abs": float(feats.abs().mean()),
            "std_per_dim_mean": float(feats.std(0).mean()),
            "std_per_dim_min": float(feats.std(0).min()),
        },
    }


def plot_errors(result: dict, path: Path) -> None:
    """PNG: observation and latent error vs horizon, model against the baselines."""
    from vla_wm_ros.evaluation.figures import pyplot, save_figure

    plt = pyplot()

    ks = sorted(int(k) for k in result["open_loop"])
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for ax, space in zip(axes, ("obs_mse", "latent_mse"), strict=True):
        for name, style in (("model", "o-"), ("copy_last", "s--"), ("mean", "^:")):
            ax.plot(ks, [result["open_loop"][str(k)][space][name] for k in ks], style, label=name)
        ax.set_xlabel("open-loop horizon k (steps)")
        ax.set_ylabel("MSE (pixels in [0,1])" if space == "obs_mse" else "MSE (latent features)")
        ax.set_xscale("log")
        ax.grid(alpha=0.3)
    axes[0].legend()
    fig.suptitle("World-model open-loop prediction error (held-out episodes)")
    save_figure(fig, path, dpi=110)


@torch.no_grad()
def frame_strip(
    wm: WorldModel, batch: dict[str, Tensor], context: int, steps: int, path: Path
) -> None:
    """PNG: real frames (top row) over imagined ones (bottom row) of the first window."""
    import imageio.v3 as iio

    one = {k: v[:1] for k, v in batch.items()}
    post = wm.observe(one, sample=False).posterior
    state = RSSMState(post.deter[:, context - 1], post.stoch[:, context - 1])
    real, imag = [], []
    for t in range(context - 1, min(context - 1 + steps, one["image"].shape[1] - 1)):
        state = wm.rssm.imagine_step(state, one["action"][:, t], sample=False)
        frame = _pixels(wm.decoder(wm.feature(state))["image"])[0]
        imag.append((frame.permute(1, 2, 0).numpy() * 255).astype(np.uint8))
        real.append(one["image"][0, t + 1].permute(1, 2, 0).numpy())
    iio.imwrite(path, np.concatenate([np.concatenate(real, 1), np.concatenate(imag, 1)], 0))
