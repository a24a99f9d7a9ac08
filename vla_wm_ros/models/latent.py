"""The RSSM's stochastic latent: diagonal Gaussian or DreamerV3-style categoricals.

Both kinds turn a raw network output into distribution statistics (a dict of tensors),
sample from them (reparameterised / straight-through), give the mode, and compute the
KL divergence summed over the whole latent. The RSSM never branches on the kind.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

Stats = dict[str, Tensor]


def detach(stats: Stats) -> Stats:
    return {k: v.detach() for k, v in stats.items()}


class GaussianLatent:
    """Diagonal Gaussian; std = min_std + (max_std - min_std) * sigmoid(raw), bounded both ways."""

    def __init__(self, size: int, min_std: float, max_std: float):
        self.size = size
        self.stats_dim = 2 * size
        self.min_std = min_std
        self.std_range = max_std - min_std

    def stats(self, raw: Tensor) -> Stats:
        mean, std = raw.chunk(2, dim=-1)
        return {"mean": mean, "std": torch.sigmoid(std) * self.std_range + self.min_std}

    def noise(self, shape: tuple[int, ...], device, dtype=torch.float32) -> Tensor:
        """Standard normal noise for `sample` (planners may pass their own for CRN)."""
        return torch.randn(*shape, self.size, device=device, dtype=dtype)

    def sample(self, stats: Stats, noise: Tensor | None = None) -> Tensor:
        if noise is None:
            noise = torch.randn_like(stats["mean"])
        return torch.addcmul(stats["mean"], stats["std"], noise)

    def mode(self, stats: Stats) -> Tensor:
        return stats["mean"]

    def kl(self, p: Stats, q: Stats) -> Tensor:
        """KL(p || q) summed over latent dimensions: (..., S) stats -> (...)."""
        var_ratio = (p["std"] / q["std"]).pow(2)
        mean_term = ((p["mean"] - q["mean"]) / q["std"]).pow(2)
        return 0.5 * (var_ratio + mean_term - 1.0 - var_ratio.log()).sum(-1)

    def entropy(self, stats: Stats) -> Tensor:
        return (0.5 * torch.log(2 * torch.pi * torch.e * stats["std"].pow(2))).sum(-1)


class DiscreteLatent:
    """`categories` one-hot categoricals of `classes` each, flattened to categories*classes.

    Probabilities mix in `unimix` of the uniform distribution (no class is ever impossible,
    so the KL stays finite); samples carry straight-through gradients of the probabilities.
    """

    def __init__(self, categories: int, classes: int, unimix: float):
        self.categories = categories
        self.classes = classes
        self.size = categories * classes
        self.stats_dim = self.size
        self.unimix = unimix

    def stats(self, raw: Tensor) -> Stats:
        logits = raw.unflatten(-1, (self.categories, self.classes))
        if self.unimix > 0:
            probs = (1 - self.unimix) * logits.softmax(-1) + self.unimix / self.classes
            logits = probs.log()
        return {"logits": logits}

    def noise(self, shape: tuple[int, ...], device, dtype=torch.float32) -> Tensor:
        """Gumbel noise for `sample` (argmax of logits + Gumbel is a categorical draw)."""
        uniform = torch.rand(*shape, self.categories, self.classes, device=device, dtype=dtype)
        return -torch.log(-torch.log(uniform.clamp_(1e-20, 1.0 - 1e-7)))

    def _one_hot(self, logits: Tensor, noise: Tensor | None) -> Tensor:
        scores = logits if noise is None else logits + noise
        index = scores.argmax(-1)
        return F.one_hot(index, self.classes).to(logits.dtype)

    def sample(self, stats: Stats, noise: Tensor | None = None) -> Tensor:
        logits = stats["logits"]
        if noise is None:
            noise = self.noise(logits.shape[:-2], logits.device, logits.dtype)
        probs = logits.softmax(-1)
        sample = self._one_hot(logits, noise) + probs - probs.detach()
        return sample.flatten(-2)

    def mode(self, stats: Stats) -> Tensor:
        logits = stats["logits"]
        probs = logits.softmax(-1)
        return (self._one_hot(logits, None) + probs - probs.detach()).flatten(-2)

    def kl(self, p: Stats, q: Stats) -> Tensor:
        """KL(p || q) summed over classes and over categories: (..., C, K) -> (...)."""
        log_p = p["logits"].log_softmax(-1)
        log_q = q["logits"].log_softmax(-1)
        return (log_p.exp() * (log_p - log_q)).sum((-2, -1))

    def entropy(self, stats: Stats) -> Tensor:
        log_p = stats["logits"].log_softmax(-1)
        return -(log_p.exp() * log_p).sum((-2, -1))


Latent = GaussianLatent | DiscreteLatent
