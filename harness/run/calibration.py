"""Thresholds per intervention: given in the config, or calibrated on held-out init states.

Calibration runs the base policy on ``calibration.init_states`` (disjoint from
the evaluated ones, which the config checks), takes the peak risk of each
clean episode (success without collision), and sets the threshold at
``calibration.quantile`` of those peaks, so the intervention would have
triggered in about ``1 - quantile`` of clean held-out episodes. The record
goes to ``thresholds.json`` beside the run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from mistvla.harness.config.run import RunConfig
from mistvla.harness.errors import CalibrationError
from mistvla.harness.results.atomic import write_json_atomic

THRESHOLDS_FILE = "thresholds.json"


def needs_calibration(cfg: RunConfig) -> list[str]:
    """Labels of the gated interventions without an explicit threshold."""
    return [i.display for i in cfg.interventions if i.name != "none" and i.threshold is None]


def threshold_from_episodes(cfg: RunConfig, episodes: list[dict[str, Any]]) -> dict[str, Any]:
    """The calibration record from the held-out base episodes' records (their ``peak_risk``)."""
    clean = [
        0.0 if e["peak_risk"] is None else float(e["peak_risk"])
        for e in episodes
        if e["success"] and not e["collided"]
    ]
    if not clean:
        raise CalibrationError(
            f"none of the {len(episodes)} held-out base episodes (init states {cfg.calibration.init_states}) "
            "ended in success without collision, so no threshold can be calibrated; add held-out init "
            "states or give `threshold:` explicitly"
        )
    return {
        "value": float(np.quantile(clean, cfg.calibration.quantile)),
        "quantile": cfg.calibration.quantile,
        "statistic": "per-episode peak risk of clean held-out base episodes",
        "n_episodes": len(episodes),
        "n_clean": len(clean),
        "init_states": cfg.calibration.init_states,
        "risk_source": cfg.risk.source,
        "interventions": needs_calibration(cfg),
    }


def saved_thresholds(cfg: RunConfig, run_dir: Path) -> dict[str, float | None] | None:
    """Every label's threshold if nothing needs calibrating or ``thresholds.json`` exists, else None."""
    thresholds: dict[str, float | None] = {i.display: i.threshold for i in cfg.interventions}
    thresholds["none"] = None
    need = needs_calibration(cfg)
    if not need:
        return thresholds
    path = run_dir / THRESHOLDS_FILE
    if not path.exists():
        return None
    saved = json.loads(path.read_text())
    return {**thresholds, **{k: saved["value"] for k in need}}


def write_thresholds(
    cfg: RunConfig, run_dir: Path, episodes: list[dict[str, Any]]
) -> dict[str, float | None]:
    """Calibrate from ``episodes``, write ``thresholds.json`` and return every label's threshold."""
    write_json_atomic(run_dir / THRESHOLDS_FILE, threshold_from_episodes(cfg, episodes))
    out = saved_thresholds(cfg, run_dir)
    assert out is not None
    return out
