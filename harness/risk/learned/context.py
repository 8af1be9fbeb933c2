"""Temporal context for the risk predictor: the hidden states of the last ``steps`` policy steps, stacked.

The feature of step row ``t`` is ``[h_t, h_{t-s}, ..., h_{t-(k-1)s}]`` (``k = steps``, ``s = stride``),
each lag clamped at the episode's first row (an episode's first step repeats its own state). ``steps=1``
is the single-state feature of every earlier checkpoint. Offline (:class:`ContextView`) the lagged rows
are read through the dataset's memory maps; in the loop (:class:`ContextBuffer`) the source keeps the
last ``(k - 1) s + 1`` vectors of the episode, so the stored score equals the offline one.

>>> lagged_rows(np.array([10, 11, 12]), np.array([0, 1, 2]), ContextSpec(steps=3, stride=1)).tolist()
[[10, 11, 12], [10, 10, 11], [10, 10, 10]]
>>> buf = ContextBuffer(ContextSpec(steps=2, stride=2))
>>> [buf.push(np.array([v], dtype=np.float32)).tolist() for v in (1.0, 2.0, 3.0)]
[[1.0, 1.0], [2.0, 1.0], [3.0, 1.0]]
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from mistvla.harness.errors import ConfigError


@dataclass
class ContextSpec:
    steps: int = 1
    """Hidden states per feature (the current one included); 1: no temporal context."""
    stride: int = 1
    """Policy steps between two stacked states."""

    def __post_init__(self) -> None:
        if int(self.steps) < 1:
            raise ConfigError(f"train.context.steps: need >= 1, got {self.steps}")
        if int(self.stride) < 1:
            raise ConfigError(f"train.context.stride: need >= 1, got {self.stride}")
        self.steps, self.stride = int(self.steps), int(self.stride)

    def to_dict(self) -> dict[str, int]:
        return asdict(self)

    @classmethod
    def of(cls, value: Any) -> ContextSpec:
        """From a checkpoint's ``feature.context`` (absent in older checkpoints: no context)."""
        if isinstance(value, cls):
            return value
        return cls(**value) if isinstance(value, dict) else cls()


def lagged_rows(rows: np.ndarray, row_in_episode: np.ndarray, spec: ContextSpec) -> np.ndarray:
    """``(steps, len(rows))`` dataset rows of each lag (rows of one episode are contiguous in a dataset)."""
    rows = np.asarray(rows, dtype=np.int64)
    back = np.asarray(row_in_episode, dtype=np.int64)
    return np.stack([rows - np.minimum(i * spec.stride, back) for i in range(spec.steps)])


class ContextView:
    """A :class:`~mistvla.harness.risk.learned.dataset.RiskDataset` whose ``features`` stack the lags.

    Everything else is the dataset's own (labels, columns, hidden sizes).
    """

    def __init__(self, ds: Any, spec: ContextSpec) -> None:
        self.ds, self.spec = ds, spec

    def __getattr__(self, name: str) -> Any:
        return getattr(self.ds, name)

    def __len__(self) -> int:
        return len(self.ds)

    def features(self, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows)
        if self.spec.steps == 1:
            return self.ds.features(rows)
        lags = lagged_rows(rows, self.ds._row[rows], self.spec)
        return np.concatenate([self.ds.features(r) for r in lags], axis=1)


class CachedView:
    """A dataset whose hidden states of ``rows`` are read once into RAM (float16, as stored: the same numbers).

    For datasets that fit (rows x size x 2 bytes): random training batches then cost a gather instead of
    one memory-map read per episode touched. Rows outside ``rows`` are read through the maps as before.
    """

    def __init__(self, ds: Any, rows: np.ndarray, chunk: int = 4096) -> None:
        self.ds = ds
        rows = np.unique(np.asarray(rows, dtype=np.int64))
        self.pos = np.full(len(ds), -1, dtype=np.int64)
        self.pos[rows] = np.arange(len(rows))
        parts = [ds.features(rows[i : i + chunk]).astype(np.float16) for i in range(0, len(rows), chunk)]
        self.x = np.concatenate(parts) if parts else np.empty((0, 0), dtype=np.float16)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.ds, name)

    def __len__(self) -> int:
        return len(self.ds)

    def features(self, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows)
        at = self.pos[rows]
        if (at >= 0).all():
            return self.x[at].astype(np.float32)
        return self.ds.features(rows)


def with_context(ds: Any, spec: ContextSpec) -> Any:
    """``ds`` itself without context, else a :class:`ContextView` of it."""
    return ds if spec.steps == 1 else ContextView(ds, spec)


class ContextBuffer:
    """The last states of one episode, in the loop: ``push`` returns the stacked feature of this step."""

    def __init__(self, spec: ContextSpec) -> None:
        self.spec = spec
        self.states: list[np.ndarray] = []

    def reset(self) -> None:
        self.states = []

    def push(self, hidden: np.ndarray) -> np.ndarray:
        h = np.asarray(hidden).reshape(-1)
        if self.spec.steps == 1:
            return h
        self.states.append(h)
        keep = (self.spec.steps - 1) * self.spec.stride + 1
        del self.states[:-keep]
        n = len(self.states)
        return np.concatenate(
            [self.states[max(n - 1 - i * self.spec.stride, 0)] for i in range(self.spec.steps)]
        )
