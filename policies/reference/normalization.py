"""Per-feature mean/std normalization, fitted on training frames and stored with the checkpoint.

A feature that is constant in the data (a fixture that never moves, an absent
object) has its std set to 1, so it normalizes to 0 instead of dividing by 0.

A feature that is *nearly* constant (a static object's rotation: std 6e-6 in the
libero_spatial demonstrations) would turn a 5 degree turn into thousands of stds.
``floor`` lifts such stds (per key) and ``clip`` bounds the normalized values; both
are stored with the statistics, so a checkpoint normalizes as it was trained.

>>> x = np.array([[0.0, 5.0], [2.0, 5.0]], dtype=np.float32)
>>> norm = Normalizer.fit({"state": x})
>>> norm.normalize("state", x).tolist()
[[-1.0, 0.0], [1.0, 0.0]]
>>> bool(np.allclose(norm.unnormalize("state", norm.normalize("state", x)), x))
True
>>> Normalizer.from_dict(norm.to_dict()).stats["state"]["std"].tolist()
[1.0, 1.0]
>>> tiny = np.array([[0.0], [2e-5]], dtype=np.float32)
>>> robust = Normalizer.fit({"env": tiny}, floor={"env": 0.02}, clip={"env": 5.0})
>>> round(float(robust.stats["env"]["std"][0]), 4), robust.normalize("env", np.array([[0.05], [1.0]])).round(2).tolist()
(0.02, [[2.5], [5.0]])
>>> Normalizer.from_dict(robust.to_dict()).normalize("env", np.array([[1.0]])).tolist()
[[5.0]]
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
    def fit(
        cls,
        arrays: dict[str, np.ndarray],
        floor: dict[str, float] | None = None,
        clip: dict[str, float] | None = None,
    ) -> Normalizer:
        """Mean/std per key; ``floor[key]``: least std of a varying feature; ``clip[key]``: bound."""
        out = {}
        for key, a in arrays.items():
            a = np.asarray(a, dtype=np.float64)
            std = a.std(axis=0)
            std = np.where(std < MIN_STD, 1.0, np.maximum(std, (floor or {}).get(key, 0.0)))
            out[key] = {"mean": a.mean(axis=0).astype(np.float32), "std": std.astype(np.float32)}
            if clip and key in clip:
                out[key]["clip"] = np.float32(clip[key])
        return cls(out)

    def normalize(self, key: str, x: np.ndarray) -> np.ndarray:
        s = self.stats[key]
        z = (np.asarray(x, dtype=np.float32) - s["mean"]) / s["std"]
        if "clip" in s:
            z = np.clip(z, -s["clip"], s["clip"])
        return z.astype(np.float32)

    def unnormalize(self, key: str, x: np.ndarray) -> np.ndarray:
        s = self.stats[key]
        return (np.asarray(x, dtype=np.float32) * s["std"] + s["mean"]).astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        return {k: {n: v.tolist() for n, v in s.items()} for k, s in self.stats.items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Normalizer:
        return cls({k: {n: np.asarray(v, dtype=np.float32) for n, v in s.items()} for k, s in d.items()})
