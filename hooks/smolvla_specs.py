"""The generic :class:`CaptureSpec` / :class:`SteeringSpec` applied to SmolVLA.

SmolVLA's ``resid_post`` is rebuilt from two hooks
(:mod:`~mistvla.hooks.smolvla_residual`), so the generic sessions, which hook
one module per name, cannot serve it; these helpers give the same specs and
the same :class:`CaptureRecord` layout for SmolVLA.

Which forward call is recorded: a predicted chunk runs each ``llm.*`` point
once (the prefix pass) and each ``expert.*`` point ``num_steps`` times (one per
denoising step); the record keeps the **last** call (for the expert, the final
denoising step, whose output gives the chunk's last velocity). Positions of
that call:

- ``last_prompt``: the last token (``llm``: the state token, the prefix's
  last; ``expert``: the chunk's last action token), shape ``(batch, dim)``;
- ``mean``: mean over the call's tokens, ``(batch, dim)``;
- ``generated``: ``expert``: every action token, ``(batch, chunk_size, dim)``
  (row k decodes action k of the chunk); ``llm``: the last token only,
  ``(batch, 1, dim)``, as the generic capture gives for a prefill without decoding.

Steering supports ``positions="all"`` only (every token of every call).

>>> from mistvla.hooks.capture import CaptureSpec
>>> spec = CaptureSpec(("expert.blocks.0.resid_post",), ("mean", "generated"))
>>> import torch
>>> h = torch.arange(24.0).reshape(1, 4, 6)
>>> out = positions_of(h, spec.positions, expert=True)
>>> out["mean"].shape, out["generated"].shape
((1, 6), (1, 4, 6))
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn as nn

from .capture import CaptureRecord, CaptureSpec
from .smolvla_residual import _RESID_POST, SmolVLAResidualCapture, SmolVLAResidualSteer, resid_post_block
from .steering import SteeringSpec


def positions_of(h: torch.Tensor, positions: tuple[str, ...], *, expert: bool) -> dict[str, np.ndarray]:
    """The requested positions of one call's ``(batch, tokens, dim)`` hidden state, float32 numpy."""
    h = h.detach().to("cpu", torch.float32)
    if h.dim() == 2:
        h = h.unsqueeze(0)
    out: dict[str, np.ndarray] = {}
    for pos in positions:
        if pos == "last_prompt":
            out[pos] = h[:, -1].numpy()
        elif pos == "mean":
            out[pos] = h.mean(dim=1).numpy()
        elif pos == "generated":
            out[pos] = (h if expert else h[:, -1:]).numpy()
        else:
            raise ValueError(f"unknown position {pos!r}")
    return out


def capture_session(model: nn.Module, spec: CaptureSpec) -> SmolVLAResidualCapture:
    """A capture session for every point of ``spec`` (resid_post or single-module names)."""
    return SmolVLAResidualCapture(model, spec.points)


def record_from(session: SmolVLAResidualCapture, spec: CaptureSpec, *, squeeze: bool = True) -> CaptureRecord:
    """A :class:`CaptureRecord` from the session's last call per point (see module doc)."""
    arrays: dict[str, dict[str, np.ndarray]] = {}
    for name in spec.points:
        calls = session.records.get(name, [])
        arrays[name] = (
            positions_of(calls[-1], spec.positions, expert=name.startswith("expert.")) if calls else {}
        )
    meta: dict[str, Any] = {
        **spec.to_dict(),
        "arch": "smolvla",
        "reads": {n: "resid_mid + mlp_out" if _RESID_POST.match(n) else "module" for n in spec.points},
        "calls": {n: len(session.records.get(n, [])) for n in spec.points},
        "source_call": "last",
    }
    record = CaptureRecord(arrays, meta)
    return record.squeeze_batch() if squeeze else record


def steer_session(model: nn.Module, spec: SteeringSpec) -> SmolVLAResidualSteer:
    """A steering session for ``spec`` (``resid_post`` points, ``positions="all"``)."""
    if spec.positions != "all":
        raise ValueError(f"SmolVLA steering supports positions='all' only, got {spec.positions!r}")
    for name in spec.vectors:
        if not _RESID_POST.match(name):
            raise ValueError(f"SmolVLA steering is defined at resid_post points, got {name!r}")
        resid_post_block(model, name)
    vectors = {k: torch.from_numpy(np.asarray(v, dtype=np.float32)) for k, v in spec.vectors.items()}
    return SmolVLAResidualSteer(model, vectors, scale=spec.alpha, mode=spec.mode)
