"""The honest steering check's scores: signed, spread-normalised dose-response, gripper flips apart.

Inputs are what :func:`~mistvla.harness.steering.check.dose_response` measures:
``delta`` (6 steered dims, strengths, frames, 7) the steered minus the
unsteered action, and ``base`` (frames, 7) the unsteered actions. Per steered
dimension ``d``:

- every arm dimension ``j`` is measured in units of its **spread** (its std
  over the frames' unsteered actions), so dimensions whose scales differ 4x are
  compared fairly;
- the **intended effect** at each strength is the mean *signed* change of
  ``a_d`` in the direction's sign (``-1``: the direction pushes ``a_d`` down,
  as ``signed`` and ``jacobian`` directions do; ``0``: no sign was fitted, the
  sign the response takes at the largest strength is used and reported);
- **off-target**: the largest mean ``|Δa_j|`` (``j != d``, arm only), normalised;
- **gripper flips**: the fraction of frames whose gripper command changes sign,
  reported on its own (a flip is not counted as a 2.0 arm change);
- **pass**: the intended effect is positive at every strength, never falls more
  than ``tolerance`` below its running maximum (overshoot is allowed), at its
  peak strength is at least ``ratio`` times the off-target change, and flips the
  gripper on at most ``max_flips`` of the frames.

The magnitude target (a decrease of ``|a_d|``) is reachable only when the push
follows the sign of ``a_d``: it is scored (:func:`score_magnitude`) on the
proportional run of the check (strength ``f * a_d`` per frame), never on a
fixed vector.

>>> rng = np.random.default_rng(0)
>>> base = rng.normal(size=(50, 7)) * [1, 1, 1, .25, .25, 1, 0]; base[:, 6] = 1.0
>>> delta = np.zeros((6, 2, 50, 7))
>>> for d in range(6): delta[d, :, :, d] = -np.array([[0.1], [0.2]]) * base[:, d].std()
>>> s = score_signed(delta, base, sign=-1)
>>> s["passes"], np.round(s["intended"][0], 3).tolist()
([True, True, True, True, True, True], [0.1, 0.2])
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

N_ARM = 6
MIN_SPREAD = 1e-6
CHECK_FORMAT = "mistvla.steering-check/2"
PASS_DIMS = 4
"""A direction set passes its check with at least this many of the 6 dimensions."""


def read_check(steering_dir: str | Path) -> dict[str, Any] | None:
    """The honest check of a steering directory (``check/check.json`` in format 2), or None."""
    path = Path(steering_dir) / "check" / "check.json"
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    return data if data.get("format") == CHECK_FORMAT else None


def spreads(base: np.ndarray) -> np.ndarray:
    """(6,) std of each arm dimension over the frames (floored so a constant one does not divide by 0)."""
    return np.maximum(np.asarray(base, dtype=np.float64)[:, :N_ARM].std(axis=0), MIN_SPREAD)


def gripper_flips(delta: np.ndarray, base: np.ndarray) -> np.ndarray:
    """Fraction of frames whose gripper command changes sign; ``delta`` (..., frames, 7) -> (...)."""
    g0 = np.sign(np.asarray(base)[:, 6])
    g1 = np.sign(np.asarray(base)[:, 6] + np.asarray(delta)[..., 6])
    return (g0 != g1).mean(axis=-1)


def off_target(delta_d: np.ndarray, spread: np.ndarray, d: int) -> np.ndarray:
    """Largest normalised mean ``|Δa_j|`` over arm ``j != d``; ``delta_d`` (strengths, frames, 7) -> (strengths,)."""
    rel = np.abs(delta_d[..., :N_ARM]).mean(axis=-2) / spread
    rel[..., d] = -np.inf
    return rel.max(axis=-1)


def monotone_within(curve: np.ndarray, tolerance: float) -> bool:
    """Positive everywhere and never more than ``tolerance`` (a fraction) below its running maximum.

    >>> monotone_within(np.array([0.1, 0.3, 0.28]), 0.25), monotone_within(np.array([0.1, 0.3, 0.1]), 0.25)
    (True, False)
    """
    curve = np.asarray(curve, dtype=np.float64)
    if curve.size == 0 or not np.all(curve > 0):
        return False
    return bool(np.all(curve >= (1.0 - tolerance) * np.maximum.accumulate(curve)))


def _verdict(intended, off, flips, ratio, tolerance, max_flips, curve_ok=True):
    peak = int(np.argmax(intended))
    sel = float(intended[peak] / off[peak]) if off[peak] > 0 else float("inf")
    ok = bool(curve_ok and intended[peak] > 0 and sel >= ratio and flips[peak] <= max_flips)
    return ok, peak, sel


def score_signed(
    delta: np.ndarray,
    base: np.ndarray,
    sign: int = 0,
    ratio: float = 2.0,
    tolerance: float = 0.25,
    max_flips: float = 0.05,
) -> dict[str, Any]:
    """Per steered dimension: the signed, normalised dose-response over the strengths and its verdict."""
    delta, base = np.asarray(delta, dtype=np.float64), np.asarray(base, dtype=np.float64)
    spread = spreads(base)
    out: dict[str, list[Any]] = {k: [] for k in ("intended", "off_target", "ratio", "flips", "sign", "peak")}
    out["passes"] = []
    for d in range(delta.shape[0]):
        mean = delta[d, :, :, d].mean(axis=1) / spread[d]
        s = sign if sign else (-1 if mean[-1] < 0 else 1)
        intended = s * mean
        off = off_target(delta[d], spread, d)
        flips = gripper_flips(delta[d], base)
        ok, peak, sel = _verdict(
            intended, off, flips, ratio, tolerance, max_flips, monotone_within(intended, tolerance)
        )
        for key, val in (("intended", intended.tolist()), ("off_target", off.tolist()), ("ratio", sel),
                         ("flips", flips.tolist()), ("sign", s), ("peak", peak), ("passes", ok)):  # fmt: skip
            out[key].append(val)
    return {**out, "spread": spread.tolist(), "n_pass": int(sum(out["passes"]))}


def score_magnitude(
    delta: np.ndarray, base: np.ndarray, ratio: float = 2.0, max_flips: float = 0.05
) -> dict[str, Any]:
    """Proportional run (``delta`` (6, fractions, frames, 7)): normalised mean decrease of ``|a_d|``, its verdict."""
    delta, base = np.asarray(delta, dtype=np.float64), np.asarray(base, dtype=np.float64)
    spread = spreads(base)
    out: dict[str, list[Any]] = {k: [] for k in ("decrease", "off_target", "ratio", "flips", "passes")}
    for d in range(delta.shape[0]):
        steered = base[None, :, d] + delta[d, :, :, d]
        dec = (np.abs(base[None, :, d]) - np.abs(steered)).mean(axis=1) / spread[d]
        off = off_target(delta[d], spread, d)
        flips = gripper_flips(delta[d], base)
        ok, _, sel = _verdict(dec, off, flips, ratio, 0.0, max_flips)
        for key, val in (("decrease", dec.tolist()), ("off_target", off.tolist()), ("ratio", sel),
                         ("flips", flips.tolist()), ("passes", ok)):  # fmt: skip
            out[key].append(val)
    return {**out, "n_pass": int(sum(out["passes"]))}
