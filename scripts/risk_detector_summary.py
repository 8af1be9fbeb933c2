"""Headline numbers of `mistvla risk eval` results against the bars of issue 25 (docs/risk_predictor.md).

    .venv/bin/python scripts/risk_detector_summary.py runs/risk/det_task_c1 runs/risk/det_task_c4 ...

Per checkpoint, type ``any``: learned AUC [95% episode-bootstrap CI] per horizon beside the best non-privileged
shortcut, the paired gain and the oracle; the detector at its calibrated threshold (detection, false triggers
on perturbed-safe episodes, median lead); per-dimension AUCs above 0.7.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _f(v) -> str:
    return "n/a" if v is None or v != v else f"{v:.3f}"


def summary(ckpt: Path) -> str:
    res = json.loads(next((ckpt / "eval").glob("metrics_*.json")).read_text())
    out = [
        f"### {ckpt.name}: split by {res['split_by']}, context {res.get('context')}, {res['n_test_episodes']} test episodes"
    ]
    out.append(
        "| H | learned AUC [CI] | best shortcut | gain [CI] | oracle | detected | FT perturbed-safe | FT safe | lead |"
    )
    out.append("|---|---|---|---|---|---|---|---|---|")
    for r in res["step"]:
        if r["type"] != "any" or r["method"] != "learned":
            continue
        h = r["horizon"]
        best = next(
            s
            for s in res["step"]
            if s["type"] == "any" and s["horizon"] == h and s["method"] == r["best_shortcut"]
        )
        orc = next(
            (s for s in res["step"] if s["type"] == "any" and s["horizon"] == h and s["method"] == "oracle"),
            None,
        )
        e = next(
            x for x in res["episode"] if x["type"] == "any" and x["horizon"] == h and x["method"] == "learned"
        )
        lo, hi = r["gain_ci"]
        out.append(
            f"| {h} | {_f(r['auc'])} [{_f(r['auc_ci'][0])}, {_f(r['auc_ci'][1])}] | {r['best_shortcut']} {_f(best['auc'])} | "
            f"{r['gain_vs_best_shortcut']:+.3f} [{_f(lo)}, {_f(hi)}] | {_f(orc['auc']) if orc else 'n/a'} | "
            f"{_f(e['detection_rate'])} of {e['n_failed_with_event']} | {_f(e['false_trigger_perturbed_safe'])} "
            f"(n={e['n_perturbed_safe']}) | {_f(e['false_trigger_safe'])} (n={e['n_safe']}) | {_f(e['median_lead_steps'])} | "
            f"{_f(e.get('false_trigger_perturbed_safe_at_target'))} |"
        )
    dims = [f"{d['dim']} {_f(d['learned_auc'])} (vs {_f(d['action_magnitude_auc'])})" for d in res["per_dim"]]
    n_above = sum(
        1 for d in res["per_dim"] if d["learned_auc"] == d["learned_auc"] and d["learned_auc"] > 0.7
    )
    out.append(
        f"per-dim AUC (action-magnitude shortcut): {', '.join(dims)}; > 0.7 on {n_above} of {len(dims)}"
    )
    return "\n".join(out)


if __name__ == "__main__":
    print("\n\n".join(summary(Path(p)) for p in sys.argv[1:]))
