"""What a steering direction is fitted on: hidden states at one hook point with actions and labels.

:func:`load_fit_data` reads either a risk-predictor dataset directory (built by
``mistvla risk dataset``: it has per-dimension collision labels) or run
directories whose episodes stored hidden states at ``point``/``position``
(actions only; no labels). Rows are steps; ``X`` is float32.

>>> data = FitData(np.zeros((4, 3), np.float32), np.zeros((4, 7), np.float32), None, {})
>>> data.n_rows, data.hidden_size, data.has_labels
(4, 3, False)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mistvla.harness.errors import ConfigError


@dataclass
class FitData:
    X: np.ndarray
    """(rows, hidden) float32 hidden states."""
    actions: np.ndarray
    """(rows, 7) the policy's raw actions at those steps."""
    dim_labels: np.ndarray | None
    """(rows, 7) int8 per-dimension collision labels (1: the collision ahead is along d; -1: none ahead)."""
    source: dict[str, Any]
    jacobians: np.ndarray | None = None
    """(rows, 7, hidden) d action / d hidden per row (``jacobian`` method; arm in action units, gripper logit)."""

    @property
    def n_rows(self) -> int:
        return int(self.X.shape[0])

    @property
    def hidden_size(self) -> int:
        return int(self.X.shape[1])

    @property
    def has_labels(self) -> bool:
        return self.dim_labels is not None


def _from_risk_dataset(root: Path, point: str | None, position: str | None, max_rows: int | None) -> FitData:
    from mistvla.harness.risk.learned.dataset import RiskDataset

    ds = RiskDataset(root)
    for name, want in (("point", point), ("position", position)):
        if want is not None and want != ds.meta[name]:
            raise ConfigError(f"--{name}: {want!r}, but dataset {str(root)!r} holds {ds.meta[name]!r}")
    models = list(ds.meta["models"])
    if len(models) != 1:
        raise ConfigError(f"dataset: {str(root)!r} mixes models {models}; fit on one model's dataset")
    rows = np.arange(len(ds))
    if max_rows is not None and len(rows) > max_rows:
        rows = np.sort(np.random.default_rng(0).choice(rows, max_rows, replace=False))
    source = {"kind": "risk_dataset", "paths": [str(root)], "point": ds.meta["point"]}
    source.update(position=ds.meta["position"], model=models[0])
    return FitData(ds.features(rows), ds.column("raw_action")[rows], ds.dims[rows].astype(np.int8), source)


def _from_runs(paths: Sequence[Path], point: str, position: str, max_rows: int | None) -> FitData:
    from mistvla.harness.results.store import ResultsStore
    from mistvla.harness.risk.learned.dataset import feature_name

    feature = feature_name(point, position)
    xs, acts = [], []
    for path in paths:
        store = ResultsStore.read(path)
        steps = store.steps().to_pydict()
        keys = np.asarray(steps["episode_key"])
        for rec in store.episodes().to_pylist():
            if feature not in (rec["hidden_layers"] or []):
                continue
            sel = np.flatnonzero(keys == rec["episode_key"])
            xs.append(np.asarray(store.hidden(rec["episode_key"], feature), dtype=np.float32))
            acts.append(np.asarray([steps["raw_action"][i] for i in sel], dtype=np.float32))
    if not xs:
        raise ConfigError(f"--point/--position: no episode in {[str(p) for p in paths]} stored {feature!r}")
    X, A = np.concatenate(xs), np.concatenate(acts)
    if max_rows is not None and len(X) > max_rows:
        keep = np.sort(np.random.default_rng(0).choice(len(X), max_rows, replace=False))
        X, A = X[keep], A[keep]
    source = {"kind": "runs", "paths": [str(p) for p in paths], "point": point, "position": position}
    return FitData(X.reshape(len(X), -1), A, None, source)


def load_fit_data(
    paths: Sequence[str | Path], point: str | None, position: str | None = None, max_rows: int | None = None
) -> FitData:
    """Hidden states, actions (and labels where the data has them) of a risk dataset or of run directories."""
    roots = [Path(p) for p in paths]
    missing = [str(p) for p in roots if not p.exists()]
    if missing:
        raise ConfigError(f"dataset: {missing[0]!r} does not exist")
    if len(roots) == 1 and (roots[0] / "meta.json").exists():
        return _from_risk_dataset(roots[0], point, position, max_rows)
    if point is None:
        raise ConfigError("--point: required when fitting on run directories")
    return _from_runs(roots, point, position or "last_prompt", max_rows)
