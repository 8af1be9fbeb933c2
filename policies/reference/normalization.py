"""Per-feature mean/std normalization, fitted on training frames and stored with the checkpoint.

A feature that is constant in the data (a fixture that never moves, an absent
object) has its std set to 1, so it normalizes to 0 instead of dividing by 0.

>>> x = np.array([[0.0, 5.0], [2.0, 5.0]], dtype=np.float32)
>>> norm = Normalizer.fit({"state": x})
>>> norm.normalize("state", x).tolist()
[[-1.0, 0.0], [1.0, 0.0]]
>>> bool(np.allclose(norm.unnormalize("state", norm.normalize("state", x)), x))
True
>>> Normalizer.from_dict(norm.to_dict()).stats["state"]["std"].tolist()
[1.0, 1.0]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

MIN_STD = 1e-6


@dataclass
class Normalizer:
    """``stats[key] = {"mean": (D,), "std": (D,)}`` float32."""

    stats: dict[str, dict[str, np.ndarray]]

    @classmethod
    def fit(cls, arrays: dict[str, np.ndarray]) -> Normalizer:
        out = {}
        for key, a in arrays.items():
            a = np.asarray(a, dtype=np.float64)
            std = a.std(axis=0)
            out[key] = {
                "mean": a.mean(axis=0).astype(np.float32),
                "std": np.where(std < MIN_STD, 1.0, std).astype(np.float32),
            }
        return cls(out)

    def normalize(self, key: str, x: np.ndarray) -> np.ndarray:
        s = self.stats[key]
        return ((np.asarray(x, dtype=np.float32) - s["mean"]) / s["std"]).astype(np.float32)

    def unnormalize(self, key: str, x: np.ndarray) -> np.ndarray:
        s = self.stats[key]
        return (np.asarray(x, dtype=np.float32) * s["std"] + s["mean"]).astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        return {k: {n: v.tolist() for n, v in s.items()} for k, s in self.stats.items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Normalizer:
        return cls({k: {n: np.asarray(v, dtype=np.float32) for n, v in s.items()} for k, s in d.items()})
