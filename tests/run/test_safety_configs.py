"""The safety experiments load, pass the pre-run checks and plan; their pipelines name existing run configs."""

from __future__ import annotations

from pathlib import Path

import pytest

from mistvla.harness.config.run import load_config
from mistvla.harness.run.checks import check_run
from mistvla.harness.run.pipeline import load_pipeline
from mistvla.harness.run.plan_command import plan_summary

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", ["quick_reference.yaml", "libero_spatial.yaml", "libero_object.yaml"])
def test_safety_run_config_loads_checks_and_plans(name):
    cfg = load_config(ROOT / "experiments/safety" / name)
    check_run(cfg)
    labels = {p.name for p in cfg.sweep.perturbations}
    assert "obstacle" in labels and "object_move" in labels
    assert plan_summary(cfg, workers=1)["episodes"] > 0


@pytest.mark.parametrize("name", ["safety_quick.yaml", "safety_libero.yaml"])
def test_safety_pipelines_run_configs_that_exist(name):
    pipeline = load_pipeline(ROOT / "experiments" / name)
    steps = [step for group in pipeline.groups for step in group]
    assert steps
    for step in steps:
        argv = step.argv
        assert argv[0] == "run" and (ROOT / argv[1]).is_file(), argv
        cfg = load_config(ROOT / argv[1], [a for a in argv[2:] if a != "--set"])
        check_run(cfg)
        assert cfg.policy.name in ("reference", "scripted")
