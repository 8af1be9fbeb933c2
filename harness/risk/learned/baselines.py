"""Shortcut baselines: what a risk score can get without the hidden state, on the same split and metrics.

Each shortcut is fitted on the training split only (a logistic regression per
(horizon, type) column on a few features) and scored on the rest:

* ``timestep``: the step index and its fraction of the step limit;
* ``task``: one-hot task id (a held-out task gets the intercept only);
* ``action_magnitude``: norms of the policy's raw translation/rotation command and its absolute components;
* ``proprio``: end-effector position and orientation;
* ``oracle``: the clearance oracle's stored risk, when the runs recorded it (``risk.source: oracle``).

Per-dimension shortcut: the absolute executed command of each dimension at the step.

>>> X = _features_timestep({"step": np.array([0, 5]), "max_steps": np.array([10, 10])})
>>> X.tolist()
[[0.0, 0.0], [5.0, 0.5]]
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

SHORTCUTS = ("timestep", "task", "action_magnitude", "proprio", "oracle")


def _features_timestep(c: dict[str, np.ndarray]) -> np.ndarray:
    step = c["step"].astype(np.float64)
    return np.stack([step, step / np.maximum(c["max_steps"], 1)], axis=1)


def _features_action(c: dict[str, np.ndarray]) -> np.ndarray:
    a = c["raw_action"].astype(np.float64)
    return np.concatenate(
        [
            np.linalg.norm(a[:, :3], axis=1, keepdims=True),
            np.linalg.norm(a[:, 3:6], axis=1, keepdims=True),
            np.abs(a[:, :6]),
        ],
        axis=1,
    )


def _features_proprio(c: dict[str, np.ndarray]) -> np.ndarray:
    return np.concatenate([c["eef_pos"], c["eef_quat"]], axis=1).astype(np.float64)


def columns(ds: Any) -> dict[str, np.ndarray]:
    """The index columns the shortcuts read, as arrays."""
    out = {
        n: ds.column(n)
        for n in ("step", "max_steps", "task_index", "raw_action", "executed_action", "eef_pos", "eef_quat")
    }
    oracle = ds.index["oracle_risk"]
    out["oracle_risk"] = None if oracle.null_count else np.asarray(oracle, dtype=np.float64)
    return out


def _fit_predict(X_tr: np.ndarray, y_tr: np.ndarray, X_ev: np.ndarray, seed: int) -> np.ndarray:
    """Scores of ``X_ev``, one column per label column of ``y_tr`` (rows, H, K; -1 masked)."""
    scaler = StandardScaler().fit(X_tr)
    a, b = scaler.transform(X_tr), scaler.transform(X_ev)
    out = np.full((len(X_ev), *y_tr.shape[1:]), 0.5)
    for j in range(y_tr.shape[1]):
        for k in range(y_tr.shape[2]):
            m = y_tr[:, j, k] >= 0
            if len(np.unique(y_tr[m, j, k])) < 2:
                continue
            clf = LogisticRegression(max_iter=500, random_state=seed).fit(a[m], y_tr[m, j, k])
            out[:, j, k] = clf.predict_proba(b)[:, 1]
    return out


def shortcut_scores(
    ds: Any, train_rows: np.ndarray, eval_rows: np.ndarray, seed: int = 0
) -> dict[str, np.ndarray]:
    """``{name: scores (len(eval_rows), horizons, types)}`` of every shortcut available in ``ds``."""
    c = columns(ds)
    y_tr = ds.y[train_rows]
    out: dict[str, np.ndarray] = {}
    tasks = np.unique(c["task_index"][train_rows])
    onehot = (c["task_index"][:, None] == tasks[None, :]).astype(np.float64)
    feats = {
        "timestep": _features_timestep(c),
        "task": onehot,
        "action_magnitude": _features_action(c),
        "proprio": _features_proprio(c),
    }
    for name, X in feats.items():
        out[name] = _fit_predict(X[train_rows], y_tr, X[eval_rows], seed)
    if c["oracle_risk"] is not None:
        r = c["oracle_risk"][eval_rows]
        out["oracle"] = np.broadcast_to(r[:, None, None], (len(eval_rows), *y_tr.shape[1:])).copy()
    return out


def per_dim_shortcut(ds: Any, rows: np.ndarray) -> np.ndarray:
    """``(len(rows), 7)``: the absolute executed command per dimension at each step."""
    return np.abs(ds.column("executed_action")[rows])


FLAG_AUC = 0.8
"""A shortcut this good, and within :data:`FLAG_MARGIN` of the learned AUC (or above it), is flagged."""
FLAG_MARGIN = 0.02


def shortcut_flags(step_rows: list[dict[str, Any]]) -> list[str]:
    """One line per (type, horizon) whose labels a non-privileged shortcut explains as well as the hidden state.

    >>> rows = [{"type": "any", "horizon": 5, "method": "learned", "auc": 0.81},
    ...         {"type": "any", "horizon": 5, "method": "timestep", "auc": 0.97}]
    >>> shortcut_flags(rows)[0].split(":")[0]
    "type 'any' H=5"
    """
    learned = {(r["type"], r["horizon"]): r["auc"] for r in step_rows if r["method"] == "learned"}
    out = []
    for r in step_rows:
        if r["method"] in ("learned", "oracle") or not np.isfinite(r["auc"]):
            continue
        ref = learned.get((r["type"], r["horizon"]), np.nan)
        if r["auc"] >= FLAG_AUC and not r["auc"] < ref - FLAG_MARGIN:
            out.append(
                f"type {r['type']!r} H={r['horizon']}: the {r['method']!r} shortcut alone reaches AUC "
                f"{r['auc']:.3f} (learned {ref:.3f}); the labels are explained by {r['method']}, "
                "not by the hidden state: check the label rules before believing the learned AUC"
            )
    return out
