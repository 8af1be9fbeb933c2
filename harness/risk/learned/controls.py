"""Negative controls: copies of a risk dataset whose labels no hidden state can honestly predict.

Two traps the pipeline must catch loudly (``tests/risk/learned/test_risk_traps.py``):

* ``timestep``: ``y[t, H] = 1`` iff ``step + H >= cutoff`` (the median step plus the largest horizon): labels that depend
  only on the timestep. The evaluation's shortcut table must flag them (the ``timestep`` shortcut
  alone explains them, :func:`~.baselines.shortcut_flags`).
* ``permuted``: each episode's labels and outcome columns are those of another episode (a random
  derangement), aligned at the episode end, while its hidden states stay its own: the join between hidden
  states and labels is broken. The label validation still passes (outcomes travel with the labels), the
  learned AUC must land within 0.05 of 0.5 and training must warn (:data:`~.train.CHANCE_BAND`).

The copy shares the runs' hidden shards (``meta.json`` names the same run directories).

>>> _derangement(4, np.random.default_rng(0)).tolist() != [0, 1, 2, 3]
True
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from mistvla.harness.errors import ConfigError
from mistvla.harness.results.atomic import save_npy_atomic, write_json_atomic
from mistvla.harness.risk.learned.dataset import RiskDataset

CONTROLS = ("timestep", "permuted")
OUTCOME_COLUMNS = ("success", "clean", "collided", "termination_reason", "condition", "perturbed")


def _derangement(n: int, rng: np.random.Generator) -> np.ndarray:
    """A permutation of ``range(n)`` with no fixed point (n >= 2)."""
    while True:
        p = rng.permutation(n)
        if not (p == np.arange(n)).any():
            return p


def _episode_starts(ds: RiskDataset) -> tuple[np.ndarray, np.ndarray]:
    """First dataset row and length of every episode (rows of an episode are contiguous)."""
    starts = np.flatnonzero(ds._row == 0)
    return starts, np.asarray(ds.column("n_rows"))[starts]


def _permuted(ds: RiskDataset, seed: int) -> tuple[pa.Table, np.ndarray, np.ndarray]:
    starts, lengths = _episode_starts(ds)
    if len(starts) < 2:
        raise ConfigError("control: 'permuted' needs at least 2 episodes")
    perm = _derangement(len(starts), np.random.default_rng(seed))
    src = np.empty(len(ds), dtype=np.int64)
    shift = np.zeros(len(ds), dtype=np.int64)
    for i, j in enumerate(perm):
        n_i, n_j = int(lengths[i]), int(lengths[j])
        r = np.arange(n_i)
        src[starts[i] : starts[i] + n_i] = starts[j] + np.clip(r - n_i + n_j, 0, n_j - 1)
        shift[starts[i] : starts[i] + n_i] = n_i - n_j
    table = ds.index
    for name in OUTCOME_COLUMNS:
        if name in table.column_names:
            col = table[name].take(pa.array(src))
            table = table.set_column(table.column_names.index(name), name, col)
    first = np.asarray(ds.column("first_event_row"))[src]
    first = np.where(first >= 0, np.maximum(first + shift, 0), -1)
    pos = table.column_names.index("first_event_row")
    table = table.set_column(pos, "first_event_row", pa.array(first))
    return table, ds.y[src], ds.dims[src]


def _timestep(ds: RiskDataset) -> tuple[pa.Table, np.ndarray, np.ndarray]:
    step = np.asarray(ds.column("step"))
    cutoff = float(np.median(step)) + max(ds.spec.horizons)
    y = np.stack([(step + h >= cutoff) for h in ds.spec.horizons], axis=1).astype(np.int8)
    y = np.repeat(y[:, :, None], len(ds.spec.types), axis=2)
    return ds.index, y, ds.dims


def write_control(
    dataset: str | Path | RiskDataset, out: str | Path, kind: str, seed: int = 0
) -> RiskDataset:
    """Write the ``kind`` control of ``dataset`` to ``out`` (a dataset directory sharing the hidden shards)."""
    ds = dataset if isinstance(dataset, RiskDataset) else RiskDataset(Path(dataset))
    if kind not in CONTROLS:
        raise ConfigError(f"control: one of {CONTROLS}, got {kind!r}")
    table, y, dims = _permuted(ds, seed) if kind == "permuted" else _timestep(ds)
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    lazy = pq.read_table(ds.root / "index.parquet", columns=ds._lazy)  # the per-step vectors stay in place
    for name in lazy.column_names:
        table = table.append_column(name, lazy[name])
    pq.write_table(table, root / "index.parquet")
    save_npy_atomic(root / "labels.npy", np.ascontiguousarray(y))
    save_npy_atomic(root / "dims.npy", np.ascontiguousarray(dims))
    meta = {**json.loads((ds.root / "meta.json").read_text()), "control": {"kind": kind, "seed": seed}}
    write_json_atomic(root / "meta.json", meta)
    if (ds.root / "validation.txt").exists():
        shutil.copy(ds.root / "validation.txt", root / "validation.txt")
    return RiskDataset(root)
