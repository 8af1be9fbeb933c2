"""Add steering vectors to hidden states at named hook points and positions.

``mode="absolute"`` adds ``alpha * v``; ``mode="relative"`` adds
``alpha * ||h|| * v / ||v||`` where ``||h||`` is the norm of the residual
stream at that point and position (per token), so alpha is a fraction of the
stream's size. A zero vector adds nothing in either mode.

A :class:`SteeringSpec` saves as ``<stem>.json`` (alpha, mode, positions,
points, vector norms) plus ``<stem>.npz`` (the vectors, keyed by point name).

>>> import numpy as np, tempfile, os
>>> spec = SteeringSpec({"llm.blocks.1.resid_post": np.ones(4)}, alpha=0.5, mode="relative")
>>> d = tempfile.mkdtemp()
>>> _ = spec.save(os.path.join(d, "push_left"))
>>> back = SteeringSpec.load(os.path.join(d, "push_left.json"))
>>> back.alpha, back.mode, back.positions, back.vectors["llm.blocks.1.resid_post"].tolist()
(0.5, 'relative', 'all', [1.0, 1.0, 1.0, 1.0])
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn as nn

from mistvla.hooks.points import ArchHookTable, resolve
from mistvla.hooks.positions import STEER_POSITIONS, check_positions, is_prefill, slice_for
from mistvla.hooks.session import HookSession, register_point

FORMAT = "mistvla.steering/1"
Mode = Literal["absolute", "relative"]


@dataclass
class SteeringSpec:
    """Vectors per hook point, added at ``positions`` with strength ``alpha``."""

    vectors: dict[str, np.ndarray]
    alpha: float = 1.0
    mode: Mode = "absolute"
    positions: str = "all"

    def __post_init__(self) -> None:
        if self.mode not in ("absolute", "relative"):
            raise ValueError(f"mode must be 'absolute' or 'relative', got {self.mode!r}")
        check_positions((self.positions,), STEER_POSITIONS)
        if not self.vectors:
            raise ValueError("a steering spec needs at least one vector")
        self.vectors = {k: np.asarray(v, dtype=np.float32).reshape(-1) for k, v in self.vectors.items()}
        self.alpha = float(self.alpha)

    def metadata(self) -> dict[str, Any]:
        """JSON-able description (what the ``.json`` file holds)."""
        return {
            "format": FORMAT,
            "alpha": self.alpha,
            "mode": self.mode,
            "positions": self.positions,
            "points": list(self.vectors),
            "norms": {k: float(np.linalg.norm(v)) for k, v in self.vectors.items()},
            "dims": {k: int(v.shape[0]) for k, v in self.vectors.items()},
        }

    def save(self, path: str | Path) -> tuple[Path, Path]:
        """Write ``<stem>.json`` and ``<stem>.npz``; returns both paths."""
        stem = Path(path)
        if stem.suffix in (".json", ".npz"):
            stem = stem.with_suffix("")
        stem.parent.mkdir(parents=True, exist_ok=True)
        js, npz = stem.with_suffix(".json"), stem.with_suffix(".npz")
        np.savez(npz, **self.vectors)
        js.write_text(json.dumps(self.metadata(), indent=2))
        return js, npz

    @classmethod
    def load(cls, path: str | Path) -> SteeringSpec:
        """Read a spec saved by :meth:`save` (``path`` may be the stem, .json or .npz)."""
        stem = Path(path)
        if stem.suffix in (".json", ".npz"):
            stem = stem.with_suffix("")
        meta = json.loads(stem.with_suffix(".json").read_text())
        if meta.get("format") != FORMAT:
            raise ValueError(f"{stem}.json is not a {FORMAT} file (format={meta.get('format')!r})")
        with np.load(stem.with_suffix(".npz")) as z:
            vectors = {k: z[k] for k in z.files}
        if sorted(vectors) != sorted(meta["points"]):
            raise ValueError(f"{stem}: json lists {meta['points']} but npz holds {sorted(vectors)}")
        vectors = {k: vectors[k] for k in meta["points"]}
        return cls(vectors, alpha=meta["alpha"], mode=meta["mode"], positions=meta["positions"])


_ROWS: ContextVar[tuple[int, ...] | None] = ContextVar("steering_rows", default=None)


@contextlib.contextmanager
def steering_rows(rows: tuple[int, ...] | None) -> Iterator[None]:
    """Steering sessions created inside the block steer only these batch rows (None: every row).

    A batched forward pass over several episodes steers only the episodes whose
    intervention is active: each enters its steering inside ``steering_rows((i,))``.
    """
    token = _ROWS.set(None if rows is None else tuple(rows))
    try:
        yield
    finally:
        _ROWS.reset(token)


class _Adder:
    """The per-point hook: adds the (cached, device-matched) vector on the chosen positions."""

    def __init__(self, name: str, vector: np.ndarray, spec: SteeringSpec) -> None:
        self.name, self.spec = name, spec
        self.rows = _ROWS.get()
        v = torch.from_numpy(vector)
        norm = float(v.norm())
        self.unit = v / norm if norm > 0 else torch.zeros_like(v)
        self.vec = v
        self._cache: dict[tuple[torch.device, torch.dtype], torch.Tensor] = {}

    def _on(self, h: torch.Tensor) -> torch.Tensor:
        key = (h.device, h.dtype)
        if key not in self._cache:
            base = self.unit if self.spec.mode == "relative" else self.vec * self.spec.alpha
            self._cache[key] = base.to(device=h.device, dtype=h.dtype)
        return self._cache[key]

    def __call__(self, h: torch.Tensor) -> torch.Tensor | None:
        if h.shape[-1] != self.vec.shape[0]:
            raise ValueError(
                f"steering vector for {self.name!r} has dim {self.vec.shape[0]}, hidden state has {h.shape[-1]}"
            )
        length = h.shape[-2] if h.dim() >= 2 else 1
        sl = slice_for(self.spec.positions, is_prefill(length), length)
        if sl is None:
            return None
        v = self._on(h)
        out = h.clone()
        part = out[..., sl, :]
        if self.spec.mode == "relative":
            scale = part.float().norm(dim=-1, keepdim=True) * self.spec.alpha
            steered = part + scale.to(h.dtype) * v
        else:
            steered = part + v
        if self.rows is not None:  # only these batch rows; the others keep their exact values
            mask = torch.zeros(h.shape[0], dtype=torch.bool, device=h.device)
            mask[list(self.rows)] = True
            steered = torch.where(mask.view(-1, *([1] * (part.dim() - 1))), steered, part)
        out[..., sl, :] = steered
        return out


class SteeringSession(HookSession):
    """Add the spec's vectors while active; nothing stays registered after the ``with``."""

    def __init__(self, model: nn.Module, spec: SteeringSpec, arch: str | ArchHookTable | None = None) -> None:
        super().__init__()
        self.model, self.spec = model, spec
        self._resolved = {name: resolve(model, name, arch) for name in spec.vectors}
        self._adders = {name: _Adder(name, v, spec) for name, v in spec.vectors.items()}

    def _register(self) -> None:
        for name, res in self._resolved.items():
            self._add(register_point(res.point, self._adders[name]))


def steer(model: nn.Module, spec: SteeringSpec, arch: str | ArchHookTable | None = None) -> SteeringSession:
    """``with steer(model, spec): model(...)``."""
    return SteeringSession(model, spec, arch)
