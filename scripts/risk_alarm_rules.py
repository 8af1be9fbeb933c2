"""Episode-level detection of a risk checkpoint under other alarm rules, each calibrated as `mistvla risk eval` does.

Rules on the learned score of type ``any``: ``raw``; ``smooth5`` (causal mean of the last 5 scores, as
``risk eval --set smooth=5``); ``rel_logit10`` / ``rel_logit20`` (the logit minus the mean of the episode's
earlier logits, up to 10 / 20 steps back); ``rel_smooth5_logit10`` (both). Printed per horizon: step AUC,
detection and perturbed-safe false triggers at the conformal-0.9 threshold of the safe calib episodes' peaks,
and the perturbed-safe false triggers at 70 % detection.

    .venv/bin/python scripts/risk_alarm_rules.py runs/risk/d3_task_c4
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from mistvla.harness.risk.learned.context import ContextSpec, with_context
from mistvla.harness.risk.learned.dataset import RiskDataset
from mistvla.harness.risk.learned.evaluate import causal_mean, fast_auc
from mistvla.harness.risk.learned.model import load_checkpoint, predict
from mistvla.harness.risk.learned.train import episode_ids
from mistvla.harness.risk.learned.triggers import calibration_peaks, threshold, trigger_metrics


def relative(s: np.ndarray, ep: np.ndarray, w: int) -> np.ndarray:
    """Each score minus the mean of its episode's scores before the last ``w`` steps (its own first score early)."""
    out = np.empty_like(s)
    for e in np.unique(ep):
        sel = np.flatnonzero(ep == e)
        x = s[sel]
        n = np.arange(1, len(x) + 1)
        before = np.concatenate([np.zeros(w), np.cumsum(x)[:-w]]) / np.maximum(n - w, 1)
        out[sel] = x - np.where(n > w, before, x[0])
    return out


def main(checkpoint: str) -> None:
    net, meta = load_checkpoint(checkpoint)
    ds = RiskDataset(Path(meta["dataset"]))
    ep = episode_ids(ds)
    split = np.full(len(ep), "", dtype=object)
    for name, members in meta["split"].items():
        split[np.isin(ep, members)] = name
    ev = np.flatnonzero(np.isin(split, ["calib", "test"]))
    probs, _ = predict(net, with_context(ds, ContextSpec.of(meta["feature"].get("context"))).features(ev))
    k = ds.spec.types.index("any")
    ep_ev, calib, test = ep[ev], split[ev] == "calib", split[ev] == "test"
    col = {c: ds.column(c)[ev] for c in ("clean", "perturbed", "condition", "row", "first_event_row")}
    failed = (ds.y[ev][:, :, k] == 1).any(axis=1)
    ep_failed = np.isin(ep_ev, np.unique(ep_ev[failed]))
    for j, h in enumerate(ds.spec.horizons):
        s0 = probs[:, j, k]
        logit = np.log(np.clip(s0, 1e-6, 1 - 1e-6)) - np.log(np.clip(1 - s0, 1e-6, 1))
        rules = {
            "raw": s0,
            "smooth5": causal_mean(s0, col["row"], 5),
            "rel_logit10": relative(logit, ep_ev, 10),
            "rel_logit20": relative(logit, ep_ev, 20),
            "rel_smooth5_logit10": relative(causal_mean(logit, col["row"], 5), ep_ev, 10),
        }
        for name, s in rules.items():
            peaks = calibration_peaks(s, ep_ev, calib, ~ep_failed, col["clean"], "safe")
            thr = threshold(peaks, "conformal", 0.9)
            m = trigger_metrics(
                s[test], ep_ev[test], col["row"][test], col["first_event_row"][test], ep_failed[test],
                col["perturbed"][test], col["condition"][test], thr, col["clean"][test],
            )  # fmt: skip
            auc = fast_auc(ds.y[ev][test, j, k] == 1, s[test])
            print(f"H={h} {name}: step AUC {auc:.3f}, detected {m['detection_rate']:.2f}, "
                  f"FT perturbed-safe {m['false_trigger_perturbed_safe']:.2f}, "
                  f"FT at 70 % {m['false_trigger_perturbed_safe_at_target']:.2f}")  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1])
