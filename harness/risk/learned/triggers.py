"""Episode-level scoring of a risk score as a failure detector: calibrate a threshold, then count triggers.

A detector raises an alarm at the first step whose score reaches the threshold. Per test episode:

* a *failed* episode (an event of the type) is **detected** when the alarm comes at or before the first
  event row; its **lead time** is the steps between them;
* a *safe* episode (no event of the type) that raises an alarm is a **false trigger**, counted over all safe
  episodes, over the *perturbed* safe ones (the episodes a perturbation detector fires on) and per condition
  (``clean``, ``obstacle L3``, ...), each rate with a Wilson interval;
* ``clean`` (successful without a collision) episodes give the earlier false-alarm rate;
* beside the calibrated threshold, the operating point of issue 25's bar: the false-trigger rate on
  perturbed-safe episodes at the highest threshold that detects 70 % of the failed test episodes.

Calibration (:func:`calibration_peaks`): the peak scores of the ``calib`` split's safe episodes, drawn from
the same condition mix as the test episodes (``calibrate_on="safe"``), or of its clean-success ones only
(``"clean"``, the first checkpoints' rule). The threshold is their ``quantile`` or the conformal rank
``ceil((n + 1) q)`` (:func:`threshold`).

>>> threshold(np.array([0.1, 0.2, 0.3, 0.4]), "conformal", 0.5)
0.3
>>> r = trigger_metrics(np.array([0.1, 0.9, 0.2, 0.2]), np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1]),
...                     np.array([1, 1, -1, -1]), np.array([True, True, False, False]),
...                     np.array([False, False, True, True]), np.array(["a", "a", "b", "b"]), 0.5)
>>> r["detection_rate"], r["median_lead_steps"], r["false_trigger_perturbed_safe"]
(1.0, 0.0, 0.0)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from mistvla.harness.errors import ConfigError
from mistvla.harness.stats.intervals import clustered_rate

CALIBRATE_ON = ("safe", "clean")
DETECTION_TARGET = 0.7
"""The operating point of issue 25's bar: the false-trigger rate at the highest threshold detecting this share."""


def _at_detection(detect: np.ndarray, peaks: np.ndarray, target: float) -> dict[str, Any]:
    """False triggers on perturbed-safe episodes at the highest threshold that detects ``target`` of the failed
    episodes (chosen on the test episodes themselves: an operating point, not a calibrated threshold)."""
    if len(detect) == 0:
        return {"threshold_at_target": math.nan, "false_trigger_perturbed_safe_at_target": math.nan}
    k = math.ceil(target * len(detect))
    thr = float(np.sort(detect)[::-1][k - 1])
    rate = float(np.mean(peaks >= thr)) if len(peaks) else math.nan
    return {"threshold_at_target": thr, "false_trigger_perturbed_safe_at_target": rate}


def threshold(peaks: np.ndarray, rule: str, quantile: float) -> float:
    """The alarm threshold from calibration peaks (inf when there are none or the rank is out of range)."""
    if len(peaks) == 0:
        return math.inf
    if rule == "conformal":
        k = math.ceil((len(peaks) + 1) * quantile)
        return float(np.sort(peaks)[k - 1]) if k <= len(peaks) else math.inf
    if rule == "quantile":
        return float(np.quantile(peaks, quantile))
    raise ConfigError(f"eval.threshold: 'quantile' or 'conformal', got {rule!r}")


def calibration_peaks(
    scores: np.ndarray, ep: np.ndarray, calib: np.ndarray, safe: np.ndarray, clean: np.ndarray, on: str
) -> np.ndarray:
    """Peak score of every calibration episode of the chosen kind (``safe`` or ``clean``)."""
    if on not in CALIBRATE_ON:
        raise ConfigError(f"eval.calibrate_on: one of {CALIBRATE_ON}, got {on!r}")
    sel = calib & (safe if on == "safe" else clean)
    return np.asarray([scores[sel & (ep == e)].max() for e in np.unique(ep[sel])])


def _rate(flags: list[bool]) -> tuple[float, tuple[float, float], int]:
    est = clustered_rate(flags, list(range(len(flags))))
    return est.value, (est.lo, est.hi), len(flags)


def trigger_metrics(
    s: np.ndarray,
    ep: np.ndarray,
    row: np.ndarray,
    first_event: np.ndarray,
    failed: np.ndarray,
    perturbed: np.ndarray,
    condition: np.ndarray,
    thr: float,
    clean: np.ndarray | None = None,
) -> dict[str, Any]:
    """Detection, lead time and false triggers of score ``s`` at threshold ``thr`` (all arrays per row)."""
    detected, leads, detect_scores, perturbed_peaks = [], [], [], []
    safe_all, safe_perturbed, clean_flags = [], [], []
    by_condition: dict[str, list[bool]] = {}
    for e in np.unique(ep):
        sel = np.flatnonzero(ep == e)
        order = sel[np.argsort(row[sel], kind="stable")]
        alarm = np.flatnonzero(s[order] >= thr)
        fired = len(alarm) > 0
        i = order[0]
        if failed[i]:
            if first_event[i] >= 0:
                before = s[order][row[order] <= first_event[i]]
                detect_scores.append(float(before.max()) if len(before) else -math.inf)
                ok = fired and alarm[0] <= first_event[i]
                detected.append(bool(ok))
                if ok:
                    leads.append(int(first_event[i] - alarm[0]))
        else:
            safe_all.append(fired)
            by_condition.setdefault(str(condition[i]), []).append(fired)
            if perturbed[i]:
                safe_perturbed.append(fired)
                perturbed_peaks.append(float(s[order].max()))
        if clean is not None and clean[i]:
            clean_flags.append(fired)
    out: dict[str, Any] = {
        "threshold": thr,
        "detection_rate": float(np.mean(detected)) if detected else math.nan,
        "n_failed_with_event": len(detected),
        "median_lead_steps": float(np.median(leads)) if leads else math.nan,
    }
    for name, flags in (("safe", safe_all), ("perturbed_safe", safe_perturbed), ("clean", clean_flags)):
        out[f"false_trigger_{name}"], out[f"false_trigger_{name}_ci"], out[f"n_{name}"] = _rate(flags)
    out.update(_at_detection(np.asarray(detect_scores), np.asarray(perturbed_peaks), DETECTION_TARGET))
    out["false_trigger_by_condition"] = {
        c: {"rate": _rate(f)[0], "ci": _rate(f)[1], "n": len(f)} for c, f in sorted(by_condition.items())
    }
    return out
