"""The published-protocol presets of ``experiments/benchmarks/`` load, pass every pre-run check and plan.

No episode of a preset runs here (they need real weights); one preset runs shrunk to one episode per
suite with the random policy, to show its table's per-suite, average and reference SR columns.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mistvla.harness.cli import main
from mistvla.harness.config.run import load_config
from mistvla.harness.report.published import PUBLISHED
from mistvla.harness.run.checks import check_run
from mistvla.harness.run.plan_command import plan_summary

PRESETS = sorted((Path(__file__).resolve().parents[2] / "experiments/benchmarks").glob("*.yaml"))
OPENVLA_LIMITS = {"libero_spatial": 220, "libero_object": 280, "libero_goal": 300, "libero_10": 520}
LEROBOT_LIMITS = {**OPENVLA_LIMITS, "libero_spatial": 280}


def test_there_are_presets_for_both_protocols():
    names = {p.stem for p in PRESETS}
    assert {f"openvla_{s}" for s in OPENVLA_LIMITS} <= names and "lerobot_smolvla_libero" in names


@pytest.mark.parametrize("path", PRESETS, ids=lambda p: p.stem)
def test_preset_loads_checks_and_plans(path, capsys):
    cfg = load_config(path)
    check_run(cfg)
    assert cfg.report.reference and all(name in PUBLISHED for name in cfg.report.reference)
    assert cfg.episodes.tasks is None and cfg.env["warmup_steps"] == 10
    p = plan_summary(cfg, workers=1)
    lerobot = cfg.env["protocol"] == "lerobot"
    per_task = 10 if lerobot else 50 * 3  # LeRobot: 10 episodes a task; OpenVLA: 50 init states x 3 seeds
    assert p["episodes"] == 10 * len(cfg.episodes.suites) * per_task
    assert p["env_builds"] == 10 * len(cfg.episodes.suites)
    limits = LEROBOT_LIMITS if lerobot else OPENVLA_LIMITS
    assert p["step_limits"] == {s: limits[s] for s in cfg.episodes.suites}
    assert main(["plan", str(path)]) == 0
    assert f"episodes: {p['episodes']} evaluated + 0 calibration" in capsys.readouterr().out


def test_a_shrunk_preset_run_shows_suites_average_and_reference(tmp_path, capsys):
    preset = next(p for p in PRESETS if p.stem == "lerobot_smolvla_libero")
    overrides = [
        f"output_dir={tmp_path}/{{name}}",
        "policy={name: random, params: {seed: 0}}",
        "episodes.tasks=[0]",
        "episodes.init_states=[0]",
        "env.max_steps=2",
        "env.cameras=[]",
    ]
    assert main(["run", str(preset), "--quiet", *[a for o in overrides for a in ("--set", o)]]) == 0
    out = capsys.readouterr().out
    assert "SmolVLA (0.45B) pub. SR %" in out
    rows = {
        line.split()[0]: line.split()[-1]
        for line in out.splitlines()
        if line.startswith(("libero_", "average"))
    }
    assert rows == {
        "libero_10": "71.0",
        "libero_goal": "92.0",
        "libero_object": "96.0",
        "libero_spatial": "90.0",
        "average": "87.3",
    }
