"""The MIST study configs (the README's main job and its collection) load, pass the pre-run checks and plan.

They run from shipped artifacts; a held-out split is part of their meaning, so it is checked here: the study's
and calibration's init states are never ones the shipped reference policy was trained on.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mistvla.harness.config.run import load_config
from mistvla.harness.run.checks import check_run
from mistvla.harness.run.plan_command import plan_summary

ROOT = Path(__file__).resolve().parents[2]
SPLIT = json.loads((ROOT / "experiments/artifacts/reference/libero_spatial/split.json").read_text())


@pytest.mark.parametrize("name", ["mist.yaml", "mist_collect.yaml", "mist_prereg.yaml"])
def test_study_config_loads_checks_and_plans(name):
    cfg = load_config(ROOT / "experiments" / name)
    check_run(cfg)
    assert plan_summary(cfg, workers=1)["episodes"] > 0


@pytest.mark.parametrize("name", ["mist.yaml", "mist_prereg.yaml"])
def test_the_study_runs_on_init_states_the_policy_never_trained_on(name):
    cfg = load_config(ROOT / "experiments" / name)
    assert not set(cfg.episodes.init_states) & set(SPLIT["train"] + SPLIT["val"])
    assert not set(cfg.calibration.init_states) & set(SPLIT["train"])
    assert not set(cfg.calibration.init_states) & set(cfg.episodes.init_states)
