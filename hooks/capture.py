"""Capture hidden states at named hook points and token positions, as CPU numpy arrays.

>>> import torch, torch.nn as nn
>>> from mistvla.hooks.points import ArchHookTable
>>> m = nn.Module(); m.layers = nn.ModuleList([nn.Linear(4, 4)])
>>> toy = ArchHookTable("toy", {"llm.blocks.{i}.resid_post": ("layers.{i}",)}, detect=lambda mod: True)
>>> cap = Capture(m, CaptureSpec(("llm.blocks.0.resid_post",), ("last_prompt", "mean")), arch=toy)
>>> with cap:
...     _ = m.layers[0](torch.ones(1, 3, 4))   # prefill: 3 positions
>>> rec = cap.pop()
>>> rec.arrays["llm.blocks.0.resid_post"]["last_prompt"].shape
(1, 4)
>>> rec.meta["positions"], rec.meta["calls"]
(['last_prompt', 'mean'], {'llm.blocks.0.resid_post': {'prefill': 1, 'decode': 0}})
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn as nn

from mistvla.hooks.points import ArchHookTable, resolve
from mistvla.hooks.positions import (
    CAPTURE_POSITIONS,
    PromptPadding,
    check_positions,
    current_padding,
    is_prefill,
)
from mistvla.hooks.session import HookSession, register_point


@dataclass(frozen=True)
class CaptureSpec:
    """Which hook points and token positions to record (see :mod:`mistvla.hooks.positions`)."""

    points: tuple[str, ...]
    positions: tuple[str, ...] = ("last_prompt",)

    def __post_init__(self) -> None:
        if isinstance(self.points, str) or not self.points:
            raise ValueError("points must be a non-empty tuple of hook names")
        object.__setattr__(self, "points", tuple(self.points))
        object.__setattr__(self, "positions", check_positions(self.positions, CAPTURE_POSITIONS))

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form, stored with the captured data."""
        return {"points": list(self.points), "positions": list(self.positions)}


@dataclass
class CaptureRecord:
    """Captured arrays ``arrays[point][position]`` (float32, batch first) and how they were taken.

    Shapes: ``last_prompt`` and ``mean`` (batch, dim); ``generated`` (batch, n, dim).
    ``meta`` holds the spec, the architecture, each point's module path and read
    side (``output``/``input``), and the number of prefill/decode calls seen.
    """

    arrays: dict[str, dict[str, np.ndarray]]
    meta: dict[str, Any] = field(default_factory=dict)

    def flat(self) -> dict[str, np.ndarray]:
        """``{"<point>/<position>": array}``, e.g. for ``np.savez``."""
        return {f"{p}/{pos}": a for p, d in self.arrays.items() for pos, a in d.items()}

    def row(self, i: int) -> CaptureRecord:
        """Batch item ``i``'s record with the batch axis dropped (a batched forward over episodes)."""
        arrays = {p: {pos: a[i] for pos, a in d.items()} for p, d in self.arrays.items()}
        return CaptureRecord(arrays, {**self.meta, "batch_squeezed": True, "batch_row": i})

    def squeeze_batch(self) -> CaptureRecord:
        """The record for batch size 1 with the batch axis dropped."""
        arrays = {p: {pos: a[0] for pos, a in d.items()} for p, d in self.arrays.items()}
        return CaptureRecord(arrays, {**self.meta, "batch_squeezed": True})


def _to_cpu(t: torch.Tensor) -> torch.Tensor:
    return t.detach().to(device="cpu", dtype=torch.float32, copy=True)


def _masked_mean(h: torch.Tensor, padding: PromptPadding | None) -> torch.Tensor:
    """Mean over positions, each batch row over its real (unpadded) positions only."""
    if padding is None or len(padding.pads) != h.shape[0]:
        return _to_cpu(h.float().mean(dim=1))
    real = torch.ones(h.shape[:2], dtype=torch.bool, device=h.device)
    for i, pads in enumerate(padding.rows(h.shape[1])):
        real[i, list(pads)] = False
    x = torch.where(real[..., None], h.float(), torch.zeros((), device=h.device))  # NaN-safe on padding
    return _to_cpu(x.sum(dim=1) / real.sum(dim=1, keepdim=True))


class _PointRecorder:
    """Per-point state for the current sequence; everything is kept on the CPU."""

    def __init__(self, positions: tuple[str, ...], prompt_stream: bool = False) -> None:
        self.positions = positions
        self.prompt_stream = prompt_stream
        """An ``llm.*`` point: its prefill is the (possibly padded) prompt."""
        self.reset()

    def reset(self) -> None:
        self.last: torch.Tensor | None = None
        self.mean: torch.Tensor | None = None
        self.generated: list[torch.Tensor] = []
        self.prefills = 0
        self.decodes = 0

    def __call__(self, h: torch.Tensor) -> None:
        if h.dim() == 2:  # (positions, dim) without batch
            h = h.unsqueeze(0)
        if is_prefill(h.shape[1]) or self.last is None:
            self.last, self.mean, self.generated = None, None, []
            self.prefills += 1
            last = _to_cpu(h[:, -1])
            self.last = last
            if "mean" in self.positions:
                self.mean = _masked_mean(h, current_padding() if self.prompt_stream else None)
            if "generated" in self.positions:
                self.generated = [last]
        else:
            self.decodes += 1
            if "generated" in self.positions:
                self.generated.append(_to_cpu(h[:, -1]))
        return None

    def arrays(self) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        if self.last is None:
            return out
        for pos in self.positions:
            if pos == "last_prompt":
                out[pos] = self.last.numpy()
            elif pos == "mean" and self.mean is not None:
                out[pos] = self.mean.numpy()
            elif pos == "generated":
                out[pos] = torch.stack(self.generated, dim=1).numpy()
        return out


class Capture(HookSession):
    """Record hidden states while active; :meth:`pop` returns them and clears the buffers.

    Each hook copies only the rows it needs (the last position, or the mean) to
    the CPU as float32 at once, so no accelerator memory is held between calls.
    A new prefill call starts a new sequence (the previous one is dropped);
    call :meth:`pop` once per policy step. Hooks registered before this one on
    the same module (e.g. steering entered first) are reflected in what it sees.
    """

    def __init__(self, model: nn.Module, spec: CaptureSpec, arch: str | ArchHookTable | None = None) -> None:
        super().__init__()
        self.model, self.spec = model, spec
        self._resolved = {name: resolve(model, name, arch) for name in spec.points}
        self._recorders = {
            name: _PointRecorder(spec.positions, name.startswith("llm.")) for name in spec.points
        }

    def _on_enter(self) -> None:
        for r in self._recorders.values():
            r.reset()

    def _register(self) -> None:
        for name, res in self._resolved.items():
            self._add(register_point(res.point, self._recorders[name]))

    def pop(self) -> CaptureRecord:
        """Arrays of the current sequence (empty dicts for points that never ran), then reset."""
        arrays = {name: r.arrays() for name, r in self._recorders.items()}
        meta = {
            **self.spec.to_dict(),
            "arch": next(iter(self._resolved.values())).arch,
            "modules": {n: res.point.path for n, res in self._resolved.items()},
            "reads": {n: res.point.reads for n, res in self._resolved.items()},
            "calls": {n: {"prefill": r.prefills, "decode": r.decodes} for n, r in self._recorders.items()},
        }
        for r in self._recorders.values():
            r.reset()
        return CaptureRecord(arrays, meta)


def capture(model: nn.Module, spec: CaptureSpec, arch: str | ArchHookTable | None = None) -> Capture:
    """``with capture(model, spec) as cap: ...; record = cap.pop()``."""
    return Capture(model, spec, arch)
