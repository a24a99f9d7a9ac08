"""Per-feature statistics (meta/stats.json), mergeable so appends need not re-read old data.

Kept as count, mean, sum of squared deviations, min and max per dimension; merged with the
parallel-variance formula (Chan et al.). Images are per channel over all pixels in [0, 1],
shaped (3, 1, 1) and counted in frames, as LeRobot writes them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Moments:
    count: int
    mean: np.ndarray
    m2: np.ndarray
    min: np.ndarray
    max: np.ndarray

    @classmethod
    def of(cls, rows: np.ndarray) -> Moments:
        x = np.asarray(rows, dtype=np.float64).reshape(len(rows), -1)
        mean = x.mean(axis=0)
        return cls(len(x), mean, ((x - mean) ** 2).sum(axis=0), x.min(axis=0), x.max(axis=0))

    def merge(self, other: Moments) -> Moments:
        n = self.count + other.count
        delta = other.mean - self.mean
        mean = self.mean + delta * other.count / n
        m2 = self.m2 + other.m2 + delta**2 * self.count * other.count / n
        return Moments(
            n, mean, m2, np.minimum(self.min, other.min), np.maximum(self.max, other.max)
        )

    @property
    def std(self) -> np.ndarray:
        return np.sqrt(self.m2 / max(self.count, 1))

    def to_json(self, shape: tuple[int, ...], count_divisor: int = 1) -> dict:
        std = self.std

        def arr(a: np.ndarray) -> list:
            return a.reshape(shape).tolist()

        return {
            "min": arr(self.min),
            "max": arr(self.max),
            "mean": arr(self.mean),
            "std": arr(std),
            "count": [self.count // count_divisor],
        }

    @classmethod
    def from_json(cls, data: dict, count_multiplier: int = 1) -> Moments:
        count = int(data["count"][0]) * count_multiplier
        std = np.asarray(data["std"], dtype=np.float64).ravel()
        return cls(
            count,
            np.asarray(data["mean"], dtype=np.float64).ravel(),
            std**2 * count,
            np.asarray(data["min"], dtype=np.float64).ravel(),
            np.asarray(data["max"], dtype=np.float64).ravel(),
        )


def image_moments(images: np.ndarray) -> Moments:
    """Per-channel moments of (T, H, W, 3) uint8 frames scaled to [0, 1]."""
    return Moments.of(images.reshape(-1, images.shape[-1]).astype(np.float32) / 255.0)
