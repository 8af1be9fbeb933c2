"""Markdown tables of a risk evaluation (:func:`mistvla.harness.risk.learned.evaluate.evaluate`'s result).

Step level (AUC / AP with episode-bootstrap intervals, the paired gain over the best shortcut and over the
oracle), per dimension (the head against the action-magnitude shortcut of that dimension), the detector at
its calibrated threshold (detection, median lead, false triggers on safe / perturbed-safe / clean episodes
and the episode-level AUCs), false triggers per condition, and the shortcut flags.

>>> _f(0.12345), _f(float("nan"))
('0.123', 'n/a')
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

QUANTILE_KEYS = ("auc@10%", "auc@25%", "auc@50%", "auc@75%", "auc@100%")


def _f(v: float | None) -> str:
    return "n/a" if v is None or not np.isfinite(v) else f"{v:.3f}"


def _ci(pair: Any) -> str:
    lo, hi = pair if pair is not None else (math.nan, math.nan)
    return f"[{_f(lo)}, {_f(hi)}]"


def _gain(r: dict[str, Any], key: str, label: str) -> str:
    if f"gain_vs_{key}" not in r:
        return ""
    return f"{r[f'gain_vs_{key}']:+.3f} {_ci(r[f'gain_vs_{key}_ci'])} vs {label}"


def _step_lines(res: dict[str, Any]) -> list[str]:
    lines = [
        "| type | H | method | AUC [95% CI] | AP [95% CI] | bal. acc | F1 | gain vs best shortcut [CI] | "
        "gain vs oracle [CI] |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in res["step"]:
        lines.append(
            f"| {r['type']} | {r['horizon']} | {r['method']} | {_f(r['auc'])} {_ci(r['auc_ci'])} | "
            f"{_f(r['ap'])} {_ci(r['ap_ci'])} | {_f(r['bal_acc'])} | {_f(r['f1'])} | "
            f"{_gain(r, 'best_shortcut', r.get('best_shortcut', ''))} | {_gain(r, 'oracle', 'oracle')} |"
        )
    return lines


def _dim_lines(res: dict[str, Any]) -> list[str]:
    lines = [
        "| dim | positives / steps | learned AUC [95% CI] | action-magnitude AUC [95% CI] |",
        "|---|---|---|---|",
    ]
    for r in res["per_dim"]:
        lines.append(
            f"| {r['dim']} | {r['positives']} / {r['steps']} | {_f(r['learned_auc'])} "
            f"{_ci(r.get('learned_auc_ci'))} | {_f(r['action_magnitude_auc'])} "
            f"{_ci(r.get('action_magnitude_auc_ci'))} |"
        )
    return lines


def _rate(r: dict[str, Any], name: str) -> str:
    return f"{_f(r[f'false_trigger_{name}'])} {_ci(r[f'false_trigger_{name}_ci'])} n={r[f'n_{name}']}"


def _episode_lines(res: dict[str, Any]) -> list[str]:
    lines = [
        "| type | H | method | detected | median lead | false triggers: safe | perturbed-safe | clean | "
        + " | ".join(QUANTILE_KEYS)
        + " |",
        "|---|---|---|---|---|---|---|---|" + "---|" * len(QUANTILE_KEYS),
    ]
    for r in res["episode"]:
        lines.append(
            f"| {r['type']} | {r['horizon']} | {r['method']} | {_f(r['detection_rate'])} of "
            f"{r['n_failed_with_event']} | {_f(r['median_lead_steps'])} | {_rate(r, 'safe')} | "
            f"{_rate(r, 'perturbed_safe')} | {_rate(r, 'clean')} | "
            + " | ".join(_f(r.get(q)) for q in QUANTILE_KEYS)
            + " |"
        )
    return lines


def _condition_lines(res: dict[str, Any], methods: tuple[str, ...] = ("learned", "oracle")) -> list[str]:
    rows = [r for r in res["episode"] if r["method"] in methods and r["type"] == "any"]
    conds = sorted({c for r in rows for c in r["false_trigger_by_condition"]})
    if not conds:
        return []
    lines = ["| type | H | method | " + " | ".join(conds) + " |", "|---|---|---|" + "---|" * len(conds)]
    for r in rows:
        by = r["false_trigger_by_condition"]
        cells = [f"{_f(by[c]['rate'])} (n={by[c]['n']})" if c in by else "-" for c in conds]
        lines.append(f"| {r['type']} | {r['horizon']} | {r['method']} | " + " | ".join(cells) + " |")
    return lines


def format_tables(res: dict[str, Any]) -> str:
    """Markdown: step level, per dimension, detector at the calibrated threshold, per condition, flags."""
    if "skipped" in res:
        return f"model {res['model']}: skipped ({res['skipped']})"
    ctx = res.get("context") or {"steps": 1, "stride": 1}
    lines = [
        f"model {res['model']} (trained on {res['trained_on']}), split by {res['split_by']}, "
        f"{res['n_test_episodes']} test episodes / {res['n_test_steps']} steps, threshold {res['threshold_rule']}, "
        f"context {ctx['steps']} x stride {ctx['stride']}",
        "",
        *_step_lines(res),
        "",
        *_dim_lines(res),
        "",
        "Detector at the calibrated threshold (test episodes; false triggers: Wilson 95% intervals):",
        "",
        *_episode_lines(res),
    ]
    cond = _condition_lines(res)
    if cond:
        lines += ["", "False-trigger rate on safe test episodes per condition (type any):", "", *cond]
    for flag in res.get("flags", []):
        lines += ["", f"FLAG: {flag}"]
    return "\n".join(lines) + "\n"
