"""Evaluate a risk checkpoint beside every shortcut, on its stored split, with episode bootstrap intervals.

Step level, per (type, horizon): ROC-AUC and average precision (95% percentile
intervals from resampling whole test episodes), balanced accuracy and F1 at
the calibrated threshold. Per action dimension: AUC of the per-dimension head
on steps with a collision ahead. Episode level (as SAFE): AUC of the running
max score at 10/25/50/75/100% of each episode, detection rate and lead time
(steps from the first alarm to the first event), false-alarm rate on clean
episodes. Thresholds come from the ``calib`` split: the ``quantile`` of clean
calibration episodes' peak scores, or the ``conformal`` rank
``ceil((n + 1)(1 - alpha))`` of those peaks. The headline is the gain in AUC
over the best shortcut, with a paired bootstrap interval.

>>> round(fast_auc(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8])), 3)
0.75
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import rankdata
from sklearn.metrics import average_precision_score

from mistvla.harness.errors import ConfigError
from mistvla.harness.risk.learned.baselines import per_dim_shortcut, shortcut_flags, shortcut_scores
from mistvla.harness.risk.learned.context import ContextSpec, with_context
from mistvla.harness.risk.learned.dataset import RiskDataset
from mistvla.harness.risk.learned.model import load_checkpoint, predict
from mistvla.harness.risk.learned.tables import format_tables
from mistvla.harness.risk.learned.train import episode_ids
from mistvla.harness.risk.learned.triggers import calibration_peaks, threshold, trigger_metrics

QUANTILES = (0.1, 0.25, 0.5, 0.75, 1.0)
DIM_NAMES = ("x", "y", "z", "roll", "pitch", "yaw")


@dataclass
class EvalConfig:
    threshold: str = "conformal"
    """``conformal`` (rank ``ceil((n + 1) q)``) or ``quantile`` of calibration episodes' peak scores."""
    quantile: float = 0.9
    calibrate_on: str = "safe"
    """``safe``: calib episodes without an event of the type, every condition (perturbed ones too);
    ``clean``: clean-success calib episodes only (the first checkpoints' rule)."""
    resamples: int = 200
    seed: int = 0
    model: str | None = None
    """Evaluate on this model's rows (train-on-A/test-on-B); None: the checkpoint's model."""
    split_from: str | None = None
    """Another checkpoint whose split (train/calib/test episodes) to score on, e.g. an older gate on a newer
    checkpoint's held-out episodes; None: the checkpoint's own split."""
    smooth: int = 1
    """Score every method by the causal mean of its last ``smooth`` step scores in the episode (1: the raw
    score); the alarm rule of a detector that should not fire on one noisy step."""

    def __post_init__(self) -> None:
        if int(self.smooth) < 1:
            raise ConfigError(f"eval.smooth: need >= 1 step, got {self.smooth}")
        self.smooth = int(self.smooth)


def causal_mean(scores: np.ndarray, row_in_episode: np.ndarray, k: int) -> np.ndarray:
    """Mean of each row's score and its ``k - 1`` predecessors in the episode (clamped at its first row).

    Rows of one episode are contiguous and in step order (as in a risk dataset).

    >>> causal_mean(np.array([1.0, 3.0, 5.0, 0.0, 2.0]), np.array([0, 1, 2, 0, 1]), 2).tolist()
    [1.0, 2.0, 4.0, 0.0, 1.0]
    """
    idx = np.arange(len(scores))
    back = np.asarray(row_in_episode, dtype=np.int64)
    return np.mean(np.stack([scores[idx - np.minimum(j, back)] for j in range(k)]), axis=0)


def fast_auc(y: np.ndarray, s: np.ndarray) -> float:
    """ROC-AUC by ranks (ties averaged); NaN when one class is missing."""
    y = np.asarray(y).astype(bool)
    npos = int(y.sum())
    nneg = len(y) - npos
    if npos == 0 or nneg == 0:
        return math.nan
    r = rankdata(s)
    return float((r[y].sum() - npos * (npos + 1) / 2) / (npos * nneg))


def _ap(y: np.ndarray, s: np.ndarray) -> float:
    return float(average_precision_score(y, s)) if 0 < y.sum() < len(y) else math.nan


def _boot_rows(ep: np.ndarray, resamples: int, seed: int) -> list[np.ndarray]:
    """Row index sets of ``resamples`` bootstrap draws of whole episodes."""
    uniq, inv = np.unique(ep, return_inverse=True)
    members = [np.flatnonzero(inv == i) for i in range(len(uniq))]
    rng = np.random.default_rng(seed)
    return [
        np.concatenate([members[i] for i in rng.integers(0, len(uniq), len(uniq))]) for _ in range(resamples)
    ]


def _ci(values: list[float]) -> tuple[float, float]:
    v = np.asarray([x for x in values if np.isfinite(x)])
    return (float(np.quantile(v, 0.025)), float(np.quantile(v, 0.975))) if len(v) else (math.nan, math.nan)


def _step_metrics(y, s, thr, boots) -> dict[str, Any]:
    m = y >= 0
    auc, ap = fast_auc(y[m], s[m]), _ap(y[m], s[m])
    pred = s >= thr
    tp = int((pred & (y == 1)).sum())
    fp = int((pred & (y == 0)).sum())
    fn = int((~pred & (y == 1)).sum())
    tn = int((~pred & (y == 0)).sum())
    tpr = tp / max(tp + fn, 1)
    tnr = tn / max(tn + fp, 1)
    f1 = 2 * tp / max(2 * tp + fp + fn, 1)
    aucs = [fast_auc(y[b][y[b] >= 0], s[b][y[b] >= 0]) for b in boots]
    aps = [_ap(y[b][y[b] >= 0], s[b][y[b] >= 0]) for b in boots]
    return {
        "auc": auc,
        "auc_ci": _ci(aucs),
        "ap": ap,
        "ap_ci": _ci(aps),
        "bal_acc": (tpr + tnr) / 2,
        "f1": f1,
        "threshold": thr,
        "positives": int((y == 1).sum()),
        "_boot_auc": aucs,
    }


def _first_event_rows(y0: np.ndarray, ep: np.ndarray, row: np.ndarray, h0: int) -> np.ndarray:
    """Per row: its episode's first event row of a type, from the smallest horizon's labels (-1: none).

    An event in row ``e`` makes rows ``e - h0 + 1 .. e`` positive, so the first positive row ``p > 0`` gives
    ``e = p + h0 - 1``; a run from row 0 ends at the event (or at ``h0 - 1``, if a second event follows).

    >>> _first_event_rows(np.array([0, 1, 1, 0, 1, 0]), np.zeros(6), np.arange(6), 2).tolist()
    [2, 2, 2, 2, 2, 2]
    >>> _first_event_rows(np.array([1, 0, 0]), np.zeros(3), np.arange(3), 2).tolist()
    [0, 0, 0]
    """
    out = np.full(len(ep), -1, dtype=np.int64)
    for e in np.unique(ep[y0 == 1]):
        sel = np.flatnonzero(ep == e)
        sel = sel[np.argsort(row[sel], kind="stable")]
        pos = np.flatnonzero(y0[sel] == 1)
        p = int(pos[0])
        if p > 0:
            first = p + h0 - 1
        else:
            gaps = np.flatnonzero(np.diff(pos) > 1)
            first = min(int(pos[gaps[0]] if len(gaps) else pos[-1]), h0 - 1)
        out[sel] = first
    return out


def _episode_aucs(s, ep, row, n_rows, failed) -> dict[str, float]:
    """Episode-level AUC of the running max score at each fraction of the episode (as SAFE)."""
    eps = np.unique(ep)
    label = np.asarray([failed[ep == e][0] for e in eps])
    out: dict[str, float] = {}
    for q in QUANTILES:
        cut = np.asarray(
            [s[(ep == e) & (row < max(1, math.ceil(q * n_rows[ep == e][0])))].max() for e in eps]
        )
        out[f"auc@{int(q * 100)}%"] = fast_auc(label, cut)
    return out


def evaluate(
    checkpoint: str | Path, dataset: str | Path | None = None, cfg: EvalConfig | None = None
) -> dict[str, Any]:
    """All metrics of ``checkpoint`` and the shortcuts on the test split; written to ``<checkpoint>/eval``."""
    cfg = cfg or EvalConfig()
    net, meta = load_checkpoint(checkpoint)
    ds = RiskDataset(Path(dataset or meta["dataset"]))
    spec = ds.spec
    model = cfg.model or meta["feature"]["model"]
    if ds.hidden_size(model) != meta["feature"]["hidden_size"]:
        return {
            "model": model,
            "skipped": f"hidden size {ds.hidden_size(model)} != {meta['feature']['hidden_size']}",
        }
    ep = episode_ids(ds)
    of_model = ds.column("model") == model
    split = np.full(len(ep), "", dtype=object)
    split_meta = load_checkpoint(cfg.split_from)[1] if cfg.split_from else meta
    for name, members in split_meta["split"].items():
        split[np.isin(ep, members)] = name
    tr = np.flatnonzero(of_model & (split == "train"))
    ev = np.flatnonzero(of_model & np.isin(split, ["calib", "test"]))
    context = ContextSpec.of(meta["feature"].get("context"))
    probs, dim_probs = predict(net, with_context(ds, context).features(ev))
    methods = {"learned": probs, **shortcut_scores(ds, tr, ev, cfg.seed)}
    if cfg.smooth > 1:
        row_ev = ds.column("row")[ev]
        methods = {name: causal_mean(sc, row_ev, cfg.smooth) for name, sc in methods.items()}
    ep_ev = ep[ev]
    calib = split[ev] == "calib"
    test = split[ev] == "test"
    clean = ds.column("clean")[ev]
    names = ds.index.column_names
    perturbed = ds.column("perturbed")[ev] if "perturbed" in names else np.zeros(len(ev), dtype=bool)
    condition = ds.column("condition")[ev] if "condition" in names else np.full(len(ev), "unknown")
    row_t, n_rows_t = ds.column("row")[ev][test], ds.column("n_rows")[ev][test]
    first_t = ds.column("first_event_row")[ev][test]
    boots = _boot_rows(ep_ev[test], cfg.resamples, cfg.seed)
    step_rows, episode_rows = [], []
    for k, t in enumerate(spec.types):
        failed = (ds.y[ev][:, :, k] == 1).any(axis=1)
        ep_failed = np.isin(ep_ev, np.unique(ep_ev[failed]))
        first = (
            first_t
            if t == "any"
            else _first_event_rows(ds.y[ev][test, 0, k], ep_ev[test], row_t, spec.horizons[0])
        )
        for j, h in enumerate(spec.horizons):
            y = ds.y[ev][test, j, k]
            best_short = oracle = None
            for name, sc in methods.items():
                peaks = calibration_peaks(sc[:, j, k], ep_ev, calib, ~ep_failed, clean, cfg.calibrate_on)
                thr = threshold(peaks, cfg.threshold, cfg.quantile)
                r = _step_metrics(y, sc[test, j, k], thr, boots)
                step_rows.append({"type": t, "horizon": h, "method": name, **r})
                if name == "oracle":
                    oracle = step_rows[-1]
                elif name != "learned" and (best_short is None or r["auc"] > best_short["auc"]):
                    best_short = step_rows[-1]
                e = trigger_metrics(
                    sc[test, j, k], ep_ev[test], row_t, first, ep_failed[test], perturbed[test],
                    condition[test], thr, clean[test],
                )  # fmt: skip
                e.update(_episode_aucs(sc[test, j, k], ep_ev[test], row_t, n_rows_t, ep_failed[test]))
                episode_rows.append({"type": t, "horizon": h, "method": name, "n_calib": len(peaks), **e})
            learned = next(
                r for r in step_rows if r["type"] == t and r["horizon"] == h and r["method"] == "learned"
            )
            for ref, key in ((best_short, "best_shortcut"), (oracle, "oracle")):
                if ref is None:
                    continue
                gains = [a - b for a, b in zip(learned["_boot_auc"], ref["_boot_auc"], strict=True)]
                learned[f"gain_vs_{key}"] = learned["auc"] - ref["auc"]
                learned[f"gain_vs_{key}_ci"] = _ci(gains)
                if key == "best_shortcut":
                    learned["best_shortcut"] = ref["method"]
                    learned["gain_ci"] = learned["gain_vs_best_shortcut_ci"]
    dim_rows = []
    d = ds.dims[ev][test]
    has = (d >= 0).all(axis=1)
    short = per_dim_shortcut(ds, ev[test])
    dim_boots = _boot_rows(ep_ev[test][has], cfg.resamples, cfg.seed) if has.any() else []
    for i, name in enumerate(DIM_NAMES):
        y, learned_s, short_s = d[has, i], dim_probs[test][has, i], short[has, i]
        dim_rows.append(
            {
                "dim": name,
                "positives": int((y == 1).sum()),
                "steps": int(has.sum()),
                "learned_auc": fast_auc(y, learned_s),
                "learned_auc_ci": _ci([fast_auc(y[b], learned_s[b]) for b in dim_boots]),
                "action_magnitude_auc": fast_auc(y, short_s),
                "action_magnitude_auc_ci": _ci([fast_auc(y[b], short_s[b]) for b in dim_boots]),
            }
        )
    for r in step_rows:
        r.pop("_boot_auc", None)
    result = {
        "checkpoint": str(checkpoint),
        "model": model,
        "trained_on": meta["feature"]["model"],
        "split_by": split_meta["train"]["split"]["by"]
        + (f" (split of {cfg.split_from})" if cfg.split_from else ""),
        "n_test_episodes": len(np.unique(ep_ev[test])),
        "n_test_steps": int(test.sum()),
        "threshold_rule": f"{cfg.threshold} {cfg.quantile} on {cfg.calibrate_on} calib episodes",
        "smooth": cfg.smooth,
        "context": context.to_dict(),
        "step": step_rows,
        "episode": episode_rows,
        "per_dim": dim_rows,
    }
    result["flags"] = shortcut_flags(step_rows)
    out = Path(checkpoint) / "eval"
    out.mkdir(exist_ok=True)
    (out / f"metrics_{model}.json").write_text(json.dumps(result, indent=1, default=str))
    (out / f"tables_{model}.md").write_text(format_tables(result))
    return result
