"""Risk as a failure detector, SAFE-style: episode-level AUC at time quantiles, ROC curve, detection lead time.

Read from each run's clean base-policy episodes (intervention ``none``, no env
perturbation), so the risk is judged on the policy's own behaviour, not on
what an intervention changed. A *failure* is an episode that did not end in
clean success (it failed or collided). At time quantile q the episode's score
is the running maximum of its per-step ``risk_score`` over the first q of its
steps; the AUC at q says how well the risk separates failures from clean
successes by that point. The lead time of a collided episode is its first
collision step minus its first step with risk at or above the run's gate
threshold (positive: the alarm came first); episodes whose risk never reached
the threshold before their collision are counted as missed.

>>> eps = [{"episode_key": k, "success": s, "collided": c, "first_collision_step": f}
...        for k, s, c, f in (("a", True, False, None), ("b", False, True, 3), ("c", False, True, 1))]
>>> risk = {"a": [0.1, 0.2, 0.1, 0.2], "b": [0.2, 0.9, 0.9, 0.9], "c": [0.3, 0.4, 0.9, 0.9]}
>>> s = detection_summary(eps, risk, threshold=0.8)
>>> s["auc"][1.0], s["lead"], s["missed"]
(1.0, [2], 1)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from mistvla.harness.report.html.section import SectionOutput, esc, plot_div

QUANTILES = (0.1, 0.25, 0.5, 0.75, 1.0)


def _is_failure(e: Mapping[str, Any]) -> bool:
    return not (bool(e["success"]) and not bool(e["collided"]))


def detection_summary(
    episodes: Sequence[Mapping[str, Any]], risk: Mapping[str, Sequence[float]], threshold: float | None
) -> dict[str, Any] | None:
    """AUC at :data:`QUANTILES`, the ROC curve of the peak risk, lead times; None without both outcomes."""
    from sklearn.metrics import roc_auc_score, roc_curve

    rows = [
        (e, np.asarray(risk[e["episode_key"]], dtype=float))
        for e in episodes
        if len(risk.get(e["episode_key"], ())) > 0
    ]
    rows = [(e, r) for e, r in rows if np.isfinite(r).all()]
    labels = np.array([_is_failure(e) for e, _ in rows])
    if len(rows) < 2 or labels.all() or not labels.any():
        return None
    auc = {}
    for q in QUANTILES:
        scores = [float(r[: max(1, int(np.ceil(q * len(r))))].max()) for _, r in rows]
        auc[q] = float(roc_auc_score(labels, scores))
    peaks = [float(r.max()) for _, r in rows]
    fpr, tpr, _ = roc_curve(labels, peaks)
    lead, missed = [], 0
    for e, r in rows:
        first = e.get("first_collision_step")
        if first is None or threshold is None:
            continue
        alarms = np.flatnonzero(r[: int(first) + 1] >= threshold)
        if len(alarms):
            lead.append(int(first) - int(alarms[0]))
        else:
            missed += 1
    return {
        "n": len(rows),
        "n_failures": int(labels.sum()),
        "auc": auc,
        "roc": {"fpr": fpr.tolist(), "tpr": tpr.tolist()},
        "lead": lead,
        "missed": missed,
        "threshold": threshold,
    }


def _run_summary(data: Any, run: Any) -> dict[str, Any] | None:
    base = [
        e for e in run.episodes if e["intervention"] == "none" and (e.get("perturbation") or "none") == "none"
    ]
    if len(base) < 2:
        return None
    steps = data.steps(run).select(["episode_key", "risk_score"]).to_pylist()
    risk: dict[str, list[float]] = {}
    for row in steps:
        if row["risk_score"] is not None:
            risk.setdefault(row["episode_key"], []).append(float(row["risk_score"]))
    thresholds = [t for t in run.thresholds().values() if t is not None]
    return detection_summary(base, risk, thresholds[0] if thresholds else None)


def detection_section(data: Any) -> SectionOutput | None:
    """The section (None when no run has base episodes with risk and both outcomes)."""
    summaries = {run.name: s for run in data.runs if (s := _run_summary(data, run)) is not None}
    if not summaries:
        return None
    roc, auc_q, lead = [], [], []
    rows = []
    for name, s in summaries.items():
        roc.append(
            {
                "x": s["roc"]["fpr"],
                "y": s["roc"]["tpr"],
                "mode": "lines",
                "name": f"{name} (AUC {s['auc'][1.0]:.2f})",
            }
        )
        auc_q.append(
            {
                "x": [100 * q for q in QUANTILES],
                "y": [s["auc"][q] for q in QUANTILES],
                "mode": "lines+markers",
                "name": name,
            }
        )
        lead.append({"x": s["lead"], "type": "histogram", "name": name, "opacity": 0.7})
        cells = "".join(f"<td>{s['auc'][q]:.3f}</td>" for q in QUANTILES)
        median = f"{np.median(s['lead']):.0f}" if s["lead"] else "-"
        rows.append(
            f"<tr><td>{esc(name)}</td><td>{s['n']}</td><td>{s['n_failures']}</td>{cells}"
            f"<td>{median}</td><td>{s['missed']}</td></tr>"
        )
    chance = {"x": [0, 1], "y": [0, 1], "mode": "lines", "name": "chance", "line": {"dash": "dot"}}
    head = "".join(f"<th>AUC @ {int(100 * q)}%</th>" for q in QUANTILES)
    html = (
        "<p>Clean base-policy episodes; failure = not a clean success. AUC of the running maximum of the "
        "per-step risk up to each fraction of the episode; lead time = first collision step minus the first "
        "step at or above the gate threshold. No intervals here: the shortcut baselines and bootstrap "
        "intervals of a learned predictor are in <code>mistvla risk eval</code>.</p>"
        f"<table class='metrics'><tr><th>run</th><th>n</th><th>failures</th>{head}"
        f"<th>median lead (steps)</th><th>missed</th></tr>{''.join(rows)}</table>"
        + plot_div("plot-roc")
        + plot_div("plot-auc-time")
        + plot_div("plot-lead")
    )
    figures = {
        "plot-roc": {"data": [*roc, chance], "layout": {"title": "ROC of the episode's peak risk", "xaxis": {"title": "false-alarm rate"}, "yaxis": {"title": "detection rate"}}},
        "plot-auc-time": {"data": auc_q, "layout": {"title": "AUC at time quantiles", "xaxis": {"title": "% of the episode"}, "yaxis": {"title": "AUC", "range": [0, 1]}}},
        "plot-lead": {"data": lead, "layout": {"title": "Detection lead time before the first collision", "xaxis": {"title": "steps"}, "barmode": "overlay"}},
    }  # fmt: skip
    return SectionOutput("Risk as a failure detector", html, data={"summaries": summaries}, figures=figures)
