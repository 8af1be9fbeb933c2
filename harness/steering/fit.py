"""Fit one steering direction per motion dimension from hidden states (``mistvla steer fit``).

Sign convention: the vector for dimension ``d`` points from the *risky* states
to the *safe* states on ``d``, so adding it pushes the policy's action on ``d``
away from the risky side. What is risky depends on ``target``:

- ``magnitude`` (default): risky = top ``quantile`` of ``|a_d|``, safe = bottom
  ``quantile``: the vector pushes toward zero motion on ``d``.
- ``signed``: risky = top ``quantile`` of ``a_d``, safe = bottom: the vector
  pushes ``a_d`` toward negative values (a clean dose-response probe).
- ``label``: risky = steps whose per-dimension collision label on ``d`` is 1
  (needs a risk dataset), safe = the rest: the vector pushes away from the obstacle.

Methods (:data:`METHODS`, a lazy registry of :class:`SteeringMethod` entries: a small function
``fit(data, target, quantile, seed) -> {d: vector}`` with the targets it accepts, the mode its
vectors are added in and whether it is fitted from demonstration frames through the policy):

- ``contrastive``: mean(safe) - mean(risky) (contrastive activation addition);
- ``probe``: minus the weight vector of a ridge (or, for ``label``, logistic) probe
  from the hidden state to the target on ``d``;
- ``generic``: one safe-minus-risky direction shared by every dimension (target on
  the whole motion: ``||a[:6]||``, or any per-dimension label);
- ``random``: seeded random directions (the control);
- ``jacobian``: minus the pseudo-inverse columns of the mean Jacobian of the action
  with respect to the hidden state (:mod:`~mistvla.harness.steering.jacobian`; fitted
  from demonstration frames through the policy, the signed convention, steered at
  ``last_prompt`` in absolute units);
- ``jacobian_online``: the same fit, steered with the pinv columns of each gated step's own
  Jacobian (:mod:`~mistvla.harness.steering.online`).

Every vector is saved unit-norm as ``dim_<d>.json/.npz`` (a relative-mode
:class:`~mistvla.hooks.steering.SteeringSpec`, the format ``steer`` reads),
with ``fit.json`` recording point, position, method, target, data and counts.

>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(400, 8)).astype(np.float32)
>>> A = np.zeros((400, 7), np.float32); A[:, :6] = X[:, :6] @ np.eye(6) * 0.5  # a_d reads X[:, d]
>>> vecs = contrastive(FitData(X, A, None, {}), "signed", 0.2, 0)
>>> int(np.argmin(vecs[2])), bool(vecs[2][2] < -0.9)   # pushes a_2 down: along -X[:, 2]
(2, True)
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mistvla.harness.errors import ConfigError
from mistvla.harness.registry import LazyRegistry
from mistvla.harness.steering.data import FitData

N_MOTION_DIMS = 6
TARGETS = ("magnitude", "signed", "label")
FIT_FILE = "fit.json"


@dataclass(frozen=True)
class SteeringMethod:
    """A registered direction method: its fit and what it accepts (checked by :func:`fit_directions`)."""

    fit: Callable[[FitData, str, float, int], dict[int, np.ndarray]]
    targets: tuple[str, ...] = TARGETS
    mode: str = "relative"
    """How its vectors are added: ``relative`` (unit vectors scaled by the residual norm) or ``absolute``."""
    needs_frames: bool = False
    """Fitted from demonstration frames through the policy (``steer fit --frames``), not from runs."""
    online: bool = False
    """Directions recomputed at every gated step from the policy's own Jacobian (``jacobian_online``)."""


METHODS = LazyRegistry(
    "steering method",
    {
        "contrastive": ("mistvla.harness.steering.fit:CONTRASTIVE", None),
        "probe": ("mistvla.harness.steering.fit:PROBE", None),
        "generic": ("mistvla.harness.steering.fit:GENERIC", None),
        "random": ("mistvla.harness.steering.fit:RANDOM", None),
        "jacobian": ("mistvla.harness.steering.jacobian:JACOBIAN", None),
        "jacobian_online": ("mistvla.harness.steering.online:JACOBIAN_ONLINE", None),
    },
)


def steering_method(name: str) -> SteeringMethod:
    """The method registered as ``name`` (``UnknownNameError`` naming the known ones otherwise)."""
    return METHODS.resolve(name)


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    if not np.isfinite(n) or n == 0.0:
        raise ConfigError("dataset: the safe and risky states have the same mean; no direction to fit")
    return (v / n).astype(np.float32)


def target_values(data: FitData, target: str, d: int) -> np.ndarray:
    """The per-row quantity whose high values are risky on dimension ``d``."""
    if target == "magnitude":
        return np.abs(data.actions[:, d])
    if target == "signed":
        return data.actions[:, d].astype(np.float64)
    if target == "label":
        if data.dim_labels is None:
            raise ConfigError(
                "--target label: needs a risk dataset (mistvla risk dataset), not run directories"
            )
        return (data.dim_labels[:, d] == 1).astype(np.float64)
    raise ConfigError(f"--target: {target!r} is not one of {', '.join(TARGETS)}")


def split_rows(values: np.ndarray, target: str, quantile: float) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks (safe, risky): bottom/top ``quantile`` of ``values``, or label 0/1 for ``label``."""
    if target == "label":
        risky = values > 0.5
        return ~risky, risky
    lo, hi = np.quantile(values, [quantile, 1.0 - quantile])
    return values <= lo, values >= hi


def _check_counts(safe: np.ndarray, risky: np.ndarray, what: str) -> None:
    if safe.sum() < 2 or risky.sum() < 2 or np.array_equal(safe, risky):
        raise ConfigError(
            f"dataset: {what} has {int(safe.sum())} safe and {int(risky.sum())} risky rows; need >= 2 of each"
        )


def contrastive(data: FitData, target: str, quantile: float, seed: int) -> dict[int, np.ndarray]:
    """Mean hidden state of the safe rows minus that of the risky rows, per dimension."""
    out = {}
    for d in range(N_MOTION_DIMS):
        safe, risky = split_rows(target_values(data, target, d), target, quantile)
        _check_counts(safe, risky, f"dimension {d}")
        out[d] = _unit(data.X[safe].mean(0) - data.X[risky].mean(0))
    return out


def probe(
    data: FitData, target: str, quantile: float, seed: int, ridge: float = 1.0
) -> dict[int, np.ndarray]:
    """Minus the weights of a ridge probe (logistic for ``label``) of the target on each dimension."""
    from sklearn.linear_model import LogisticRegression, Ridge

    X = data.X - data.X.mean(0)
    scale = float(np.mean(np.sum(X * X, axis=1))) or 1.0
    out = {}
    for d in range(N_MOTION_DIMS):
        y = target_values(data, target, d)
        if target == "label":
            safe, risky = split_rows(y, target, quantile)
            _check_counts(safe, risky, f"dimension {d}")
            w = LogisticRegression(C=1.0 / ridge, max_iter=500).fit(X / np.sqrt(scale), y).coef_[0]
        else:
            w = Ridge(alpha=ridge).fit(X / np.sqrt(scale), y).coef_
        out[d] = _unit(-np.asarray(w, dtype=np.float64))
    return out


def generic(data: FitData, target: str, quantile: float, seed: int) -> dict[int, np.ndarray]:
    """One safe-minus-risky direction over the whole motion, shared by every dimension."""
    if target == "label":
        if data.dim_labels is None:
            raise ConfigError(
                "--target label: needs a risk dataset (mistvla risk dataset), not run directories"
            )
        risky = (data.dim_labels[:, :N_MOTION_DIMS] == 1).any(axis=1)
        safe = ~risky
    else:
        speed = np.linalg.norm(data.actions[:, :N_MOTION_DIMS], axis=1)
        safe, risky = split_rows(speed, "magnitude", quantile)
    _check_counts(safe, risky, "the whole motion")
    v = _unit(data.X[safe].mean(0) - data.X[risky].mean(0))
    return {d: v.copy() for d in range(N_MOTION_DIMS)}


def random_directions(data: FitData, target: str, quantile: float, seed: int) -> dict[int, np.ndarray]:
    """Seeded random unit directions, one per dimension (the control)."""
    rng = np.random.default_rng([seed, 104729])
    return {d: _unit(rng.standard_normal(data.hidden_size)) for d in range(N_MOTION_DIMS)}


CONTRASTIVE = SteeringMethod(contrastive)
PROBE = SteeringMethod(probe)
GENERIC = SteeringMethod(generic)
RANDOM = SteeringMethod(random_directions)


def fit_directions(
    data: FitData,
    out_dir: str | Path,
    method: str = "contrastive",
    target: str = "magnitude",
    quantile: float = 0.2,
    seed: int = 0,
    steer_positions: str | None = None,
) -> dict[str, Any]:
    """Fit ``method`` on ``data``; write ``dim_<d>.json/.npz`` and ``fit.json`` into ``out_dir``; return the record."""
    from mistvla.hooks import SteeringSpec

    if (
        steer_positions is None
    ):  # where the action reads (the captured position) when it is one a vector can take
        pos = data.source.get("position")
        steer_positions = "last_prompt" if pos in (None, "last_prompt") else "all"
    if target not in TARGETS:
        raise ConfigError(f"--target: {target!r} is not one of {', '.join(TARGETS)}")
    if not 0.0 < quantile <= 0.5:
        raise ConfigError(f"--quantile: must be in (0, 0.5], got {quantile}")
    spec = steering_method(method)
    if target not in spec.targets:
        raise ConfigError(f"--target: the {method} method takes {', '.join(spec.targets)}, not {target!r}")
    vectors = spec.fit(data, target, quantile, seed)
    out = Path(out_dir)
    point = data.source["point"]
    mode = spec.mode
    counts = {}
    for d, v in vectors.items():
        SteeringSpec({point: v}, alpha=1.0, mode=mode, positions=steer_positions).save(out / f"dim_{d}")
        if target != "label" or data.has_labels:
            safe, risky = split_rows(target_values(data, target, d), target, quantile)
            counts[str(d)] = {"safe": int(safe.sum()), "risky": int(risky.sum())}
    V = np.stack([vectors[d] for d in sorted(vectors)])
    record = {
        "format": "mistvla.steering-fit/1",
        "method": method,
        "target": target,
        "quantile": quantile,
        "seed": seed,
        "point": point,
        "position": data.source.get("position"),
        "steer_positions": steer_positions,
        "mode": mode,
        "data": data.source,
        "n_rows": data.n_rows,
        "hidden_size": data.hidden_size,
        "counts": counts,
        "cosines": np.round(V @ V.T, 4).tolist(),
        "sign": "the vector for d points from risky to safe states on d (see harness/steering/fit.py)",
    }
    (out / FIT_FILE).write_text(json.dumps(record, indent=1))
    return record


def read_fit(steering_dir: str | Path) -> dict[str, Any] | None:
    """``fit.json`` of a steering directory, or None for hand-made specs."""
    path = Path(steering_dir) / FIT_FILE
    return json.loads(path.read_text()) if path.exists() else None
