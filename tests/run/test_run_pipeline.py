"""The run pipeline on real LIBERO: config validation, runner, report, resume after SIGKILL, workers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from mistvla.harness.cli import main
from mistvla.harness.config.run import load_config, parse_config
from mistvla.harness.errors import ConfigError, ConfigMismatchError
from mistvla.harness.results.store import ResultsStore
from mistvla.harness.run.run_command import plan_episodes, run

VOLATILE = {"wall_time_s", "started_utc", "run_id"}


def tiny_config(tmp: Path, name: str = "tiny", **extra) -> Path:
    data = {
        "name": name,
        "output_dir": str(tmp / "{name}"),
        "policy": {"name": "random", "params": {"seed": 3, "scale": 0.8}},
        "episodes": {"suite": "libero_spatial", "tasks": [0], "init_states": [0, 1, 2], "seeds": [0]},
        "env": {"max_steps": 12},
        "risk": {"source": "oracle"},
        "interventions": [
            {"name": "none"},
            {"name": "slow", "factor": 0.5, "threshold": 0.2},
            {"name": "stop", "hold_steps": 2, "threshold": 0.2},
        ],
        **extra,
    }
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def episodes(run_dir: Path) -> list[dict]:
    rows = ResultsStore.read(run_dir).episodes().to_pylist()
    return sorted(
        ({k: v for k, v in r.items() if k not in VOLATILE} for r in rows), key=lambda r: r["episode_key"]
    )


def steps(run_dir: Path) -> list[dict]:
    rows = ResultsStore.read(run_dir).steps().to_pylist()
    return [{k: v for k, v in r.items() if k != "run_id"} for r in rows]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ref")
    cfg = load_config(tiny_config(tmp))
    return run(cfg, workers=1, progress=False)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"episodez": {}}, "episodez: unknown key"),
        ({"episodes": {"suite": "libero_100"}}, "episodes: suite must be one of"),
        ({"interventions": [{"name": "slow"}]}, "must include the base policy `none`"),
        (
            {"interventions": [{"name": "none"}, {"name": "slow"}], "calibration": {"init_states": [1, 45]}},
            "calibration.init_states [1] are also evaluated",
        ),
        ({"env": {"max_steps": "ten"}}, "env.max_steps: expected int"),
    ],
)
def test_config_errors_name_the_field(change, message):
    base = {
        "name": "x",
        "policy": {"name": "random"},
        "episodes": {"suite": "libero_spatial", "init_states": [0, 1]},
    }
    with pytest.raises(ConfigError) as err:
        parse_config({**base, **change})
    assert message in str(err.value)


def test_cli_refuses_a_broken_config_before_running(tmp_path, capsys):
    path = tiny_config(tmp_path, episodes={"suite": "libero_spatial", "init_states": [0, 99]})
    assert main(["run", str(path)]) == 2
    assert "init_states must be in [0, 49]" in capsys.readouterr().err
    assert not (tmp_path / "tiny").exists()


def test_short_real_run_records_everything(reference):
    eps = episodes(reference)
    assert len(eps) == 9 and len({e["episode_key"] for e in eps}) == 9
    assert {e["intervention"] for e in eps} == {"none", "slow", "stop"}
    assert all(e["steps"] == 12 and e["termination_reason"] == "timeout" for e in eps)
    assert all(e["task"].startswith("pick_up_the_black_bowl") for e in eps)
    st = steps(reference)
    assert len(st) == 9 * 12
    slow_active = [s for s in st if "_slow_" in s["episode_key"] and s["intervention_active"]]
    for s in slow_active:  # executed = raw * 0.5 on motion dims while active
        assert s["executed_action"][:6] == pytest.approx([0.5 * a for a in s["raw_action"][:6]], abs=1e-6)
        assert s["risk_score"] >= 0.2
    base = [s for s in st if "_none_" in s["episode_key"]]
    assert all(s["executed_action"] == s["raw_action"] and not s["intervention_active"] for s in base)


def test_report_writes_tables_and_plot(reference, capsys):
    assert main(["report", str(reference)]) == 0
    out = capsys.readouterr().out
    assert "random / none (base)" in out and "random / slow" in out and "RR(b)" in out
    for ext in ("md", "csv", "tex", "png"):
        assert (reference / "report" / f"comparison.{ext}").stat().st_size > 0


def test_worker_count_does_not_change_results(reference, tmp_path):
    cfg = load_config(tiny_config(tmp_path))
    two = run(cfg, workers=2, progress=False)
    assert episodes(two) == episodes(reference)
    assert steps(two) == steps(reference)


def test_restart_with_another_config_is_refused(reference, tmp_path):
    cfg_path = tmp_path / "again.yaml"
    data = yaml.safe_load(tiny_config(tmp_path).read_text())
    data["output_dir"] = str(reference.parent / "{name}")
    data["episodes"]["seeds"] = [1]
    cfg_path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigMismatchError, match=r"episodes\.seeds"):
        run(load_config(cfg_path), workers=1, progress=False)


def test_resume_after_sigkill_loses_and_duplicates_nothing(reference, tmp_path):
    path = tiny_config(tmp_path, name="killed")
    run_dir = tmp_path / "killed"
    cmd = [sys.executable, "-m", "mistvla.harness.cli", "run", str(path), "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 300
        while time.time() < deadline:
            done = list((run_dir / "episodes").glob("*.parquet")) if (run_dir / "episodes").exists() else []
            if len(done) >= 3:
                break
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    partial = len(list((run_dir / "episodes").glob("*.parquet")))
    assert 3 <= partial < 9, "the kill should land mid-run"
    run(load_config(path), workers=1, progress=False)
    assert episodes(run_dir) == episodes(reference)
    assert steps(run_dir) == steps(reference)
    sessions = (run_dir / "sessions.jsonl").read_text().splitlines()
    assert len(sessions) == 2


def test_plan_has_no_duplicates_and_stable_order(tmp_path):
    cfg = load_config(tiny_config(tmp_path), ["episodes.seeds=[0, 1]"])
    specs = plan_episodes(cfg)
    assert len(specs) == 3 * 3 * 2 and len({s.key for s in specs}) == len(specs)
    assert [s.key for s in plan_episodes(cfg)] == [s.key for s in specs]


@pytest.mark.render
def test_video_is_written_per_episode(tmp_path):
    import imageio.v2 as imageio

    path = tiny_config(
        tmp_path,
        name="video",
        video=True,
        env={"max_steps": 4, "image_size": 64},
        episodes={"suite": "libero_spatial", "tasks": [0], "init_states": [0]},
        interventions=[{"name": "none"}],
    )
    run_dir = run(load_config(path), workers=1, progress=False)
    (ep,) = ResultsStore.read(run_dir).episodes().to_pylist()
    frames = imageio.mimread(run_dir / ep["video_path"])
    assert len(frames) == 4 and frames[0].shape == (64, 64, 3)
