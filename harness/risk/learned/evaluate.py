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

from mistvla.harness.risk.learned.baselines import per_dim_shortcut, shortcut_scores
from mistvla.harness.risk.learned.dataset import RiskDataset
from mistvla.harness.risk.learned.model import load_checkpoint, predict
from mistvla.harness.risk.learned.train import episode_ids
from mistvla.harness.stats.intervals import clustered_rate

QUANTILES = (0.1, 0.25, 0.5, 0.75, 1.0)
DIM_NAMES = ("x", "y", "z", "roll", "pitch", "yaw")


@dataclass
class EvalConfig:
    threshold: str = "quantile"
    """``quantile`` or ``conformal`` (both from clean calibration episodes' peak scores)."""
    quantile: float = 0.9
    resamples: int = 200
    seed: int = 0
    episode_horizon: int | None = None
    """Horizon of the episode-level score; None: the largest."""
    model: str | None = None
    """Evaluate on this model's rows (train-on-A/test-on-B); None: the checkpoint's model."""


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


def _threshold(peaks: np.ndarray, cfg: EvalConfig) -> float:
    if len(peaks) == 0:
        return math.inf
    if cfg.threshold == "conformal":
        k = math.ceil((len(peaks) + 1) * cfg.quantile)
        return float(np.sort(peaks)[k - 1]) if k <= len(peaks) else math.inf
    return float(np.quantile(peaks, cfg.quantile))


def _peaks(scores: np.ndarray, ep: np.ndarray, sel: np.ndarray) -> np.ndarray:
    return np.asarray([scores[sel & (ep == e)].max() for e in np.unique(ep[sel])])


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


def _episode_metrics(s, ep, row, n_rows, first_event, clean, failed, thr, cfg) -> dict[str, Any]:
    eps = np.unique(ep)
    out: dict[str, Any] = {}
    label = np.asarray([failed[ep == e][0] for e in eps])
    for q in QUANTILES:
        cut = np.asarray(
            [s[(ep == e) & (row < max(1, math.ceil(q * n_rows[ep == e][0])))].max() for e in eps]
        )
        out[f"auc@{int(q * 100)}%"] = fast_auc(label, cut)
    leads, detected = [], []
    false_alarm = []
    for e in eps:
        sel = ep == e
        alarm = np.flatnonzero(s[sel] >= thr)
        if failed[sel][0] and first_event[sel][0] >= 0:
            ok = len(alarm) > 0 and alarm[0] <= first_event[sel][0]
            detected.append(ok)
            if ok:
                leads.append(int(first_event[sel][0] - alarm[0]))
        if clean[sel][0]:
            false_alarm.append(len(alarm) > 0)
    out["detection_rate"] = float(np.mean(detected)) if detected else math.nan
    out["n_failed_with_event"] = len(detected)
    out["median_lead_steps"] = float(np.median(leads)) if leads else math.nan
    far = clustered_rate(false_alarm, list(range(len(false_alarm))))
    out["false_alarm_rate"] = far.value
    out["false_alarm_ci"] = (far.lo, far.hi)
    out["n_clean"] = len(false_alarm)
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
    for name, members in meta["split"].items():
        split[np.isin(ep, members)] = name
    tr = np.flatnonzero(of_model & (split == "train"))
    ev = np.flatnonzero(of_model & np.isin(split, ["calib", "test"]))
    x = ds.features(ev)
    probs, dim_probs = predict(net, x)
    methods = {"learned": probs, **shortcut_scores(ds, tr, ev, cfg.seed)}
    ep_ev = ep[ev]
    calib = split[ev] == "calib"
    test = split[ev] == "test"
    clean = ds.column("clean")[ev]
    boots = _boot_rows(ep_ev[test], cfg.resamples, cfg.seed)
    step_rows, episode_rows = [], []
    hmax = cfg.episode_horizon or spec.horizons[-1]
    jep = spec.horizons.index(hmax)
    for k, t in enumerate(spec.types):
        failed = (ds.y[ev][:, :, k] == 1).any(axis=1)
        ep_failed = np.isin(ep_ev, np.unique(ep_ev[failed]))
        for j, h in enumerate(spec.horizons):
            y = ds.y[ev][test, j, k]
            best_short = None
            for name, sc in methods.items():
                thr = _threshold(_peaks(sc[:, j, k], ep_ev, calib & clean), cfg)
                r = _step_metrics(y, sc[test, j, k], thr, boots)
                step_rows.append({"type": t, "horizon": h, "method": name, **r})
                if name != "learned" and (best_short is None or r["auc"] > best_short["auc"]):
                    best_short = step_rows[-1]
                if j == jep:
                    e = _episode_metrics(
                        sc[test, j, k],
                        ep_ev[test],
                        ds.column("row")[ev][test],
                        ds.column("n_rows")[ev][test],
                        ds.column("first_event_row")[ev][test],
                        clean[test],
                        ep_failed[test],
                        thr,
                        cfg,
                    )
                    episode_rows.append({"type": t, "horizon": h, "method": name, **e})
            learned = next(
                r for r in step_rows if r["type"] == t and r["horizon"] == h and r["method"] == "learned"
            )
            if best_short is not None:
                gains = [a - b for a, b in zip(learned["_boot_auc"], best_short["_boot_auc"], strict=True)]
                learned["gain_vs_best_shortcut"] = learned["auc"] - best_short["auc"]
                learned["gain_ci"] = _ci(gains)
                learned["best_shortcut"] = best_short["method"]
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
        "split_by": meta["train"]["split"]["by"],
        "n_test_episodes": len(np.unique(ep_ev[test])),
        "n_test_steps": int(test.sum()),
        "threshold_rule": f"{cfg.threshold} {cfg.quantile}",
        "step": step_rows,
        "episode": episode_rows,
        "per_dim": dim_rows,
    }
    out = Path(checkpoint) / "eval"
    out.mkdir(exist_ok=True)
    (out / f"metrics_{model}.json").write_text(json.dumps(result, indent=1, default=str))
    (out / f"tables_{model}.md").write_text(format_tables(result))
    return result


def _f(v: float) -> str:
    return "n/a" if v is None or not np.isfinite(v) else f"{v:.3f}"


def format_tables(res: dict[str, Any]) -> str:
    """Markdown: step-level table (with the gain over the best shortcut), per-dimension, episode-level."""
    if "skipped" in res:
        return f"model {res['model']}: skipped ({res['skipped']})"
    lines = [
        f"model {res['model']} (trained on {res['trained_on']}), split by {res['split_by']}, "
        f"{res['n_test_episodes']} test episodes / {res['n_test_steps']} steps, threshold {res['threshold_rule']}",
        "",
        "| type | H | method | AUC [95% CI] | AP [95% CI] | bal. acc | F1 | gain vs best shortcut [CI] |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in res["step"]:
        gain = ""
        if "gain_vs_best_shortcut" in r:
            lo, hi = r["gain_ci"]
            gain = f"{r['gain_vs_best_shortcut']:+.3f} [{_f(lo)}, {_f(hi)}] vs {r['best_shortcut']}"
        lines.append(
            f"| {r['type']} | {r['horizon']} | {r['method']} | {_f(r['auc'])} [{_f(r['auc_ci'][0])}, "
            f"{_f(r['auc_ci'][1])}] | {_f(r['ap'])} [{_f(r['ap_ci'][0])}, {_f(r['ap_ci'][1])}] | "
            f"{_f(r['bal_acc'])} | {_f(r['f1'])} | {gain} |"
        )
    lines += [
        "",
        "| dim | positives / steps | learned AUC [95% CI] | action-magnitude AUC [95% CI] |",
        "|---|---|---|---|",
    ]
    for r in res["per_dim"]:
        lo, hi = r.get("learned_auc_ci", (math.nan, math.nan))
        alo, ahi = r.get("action_magnitude_auc_ci", (math.nan, math.nan))
        lines.append(
            f"| {r['dim']} | {r['positives']} / {r['steps']} | {_f(r['learned_auc'])} [{_f(lo)}, {_f(hi)}] | "
            f"{_f(r['action_magnitude_auc'])} [{_f(alo)}, {_f(ahi)}] |"
        )
    qs = [f"auc@{int(q * 100)}%" for q in QUANTILES]
    lines += [
        "",
        "| type | H | method | " + " | ".join(qs) + " | detected | median lead | false alarms (clean) |",
        "|---|---|---|" + "---|" * (len(qs) + 3),
    ]
    for r in res["episode"]:
        fa = f"{_f(r['false_alarm_rate'])} [{_f(r['false_alarm_ci'][0])}, {_f(r['false_alarm_ci'][1])}] n={r['n_clean']}"
        lines.append(
            f"| {r['type']} | {r['horizon']} | {r['method']} | "
            + " | ".join(_f(r[q]) for q in qs)
            + f" | {_f(r['detection_rate'])} of {r['n_failed_with_event']} | {_f(r['median_lead_steps'])} | {fa} |"
        )
    return "\n".join(lines) + "\n"
