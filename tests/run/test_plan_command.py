"""``mistvla plan`` counts episodes, env builds and policy loads before anything runs."""

from __future__ import annotations

from pathlib import Path

from mistvla.harness.cli import main
from mistvla.harness.config.run import load_config
from mistvla.harness.run.plan_command import plan_summary

QUICKSTART = Path(__file__).resolve().parents[2] / "experiments/quickstart.yaml"


def test_plan_prints_counts_and_writes_nothing(tmp_path, capsys):
    assert main(["plan", str(QUICKSTART), "--set", f"output_dir={tmp_path}/q", "--workers", "1"]) == 0
    out = capsys.readouterr().out
    assert "episodes: 96 evaluated + 24 calibration, up to 220 steps each" in out
    assert "env builds: 5   policy loads: 1" in out  # 3 tasks, then the evaluation starts on the held one
    assert not (tmp_path / "q").exists()


def test_more_workers_cost_more_builds_and_less_time():
    cfg = load_config(QUICKSTART)
    one, two = plan_summary(cfg, workers=1), plan_summary(cfg, workers=2)
    assert two["env_builds"] > one["env_builds"] and two["policy_loads"] == 2
    assert two["estimate_s"] < one["estimate_s"] or two["parallel"] == 1


VISION_EVAL = QUICKSTART.parent / "reference/eval_libero_spatial_vision.yaml"


def test_plan_of_an_image_policy_counts_the_cameras_its_checkpoint_reads():
    """The shipped SmolVLA checkpoint's config.json names two 128 px cameras: plan renders them."""
    cfg = load_config(VISION_EVAL)
    summary = plan_summary(cfg, workers=2)
    assert summary["cameras"] == ["agentview", "robot0_eye_in_hand"]
    state = plan_summary(load_config(VISION_EVAL, overrides=["policy.name=scripted", "policy.params={}"]), 2)
    assert state["cameras"] == [] and state["estimate_s"] < summary["estimate_s"] / 3
