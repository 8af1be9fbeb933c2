"""Real short runs: ``stop`` that ends episodes, the env's collision thresholds from YAML, damaged files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mistvla.harness.config.run import parse_config
from mistvla.harness.report.build import report
from mistvla.harness.results.store import ResultsStore
from mistvla.harness.run.run_command import run


def _cfg(tmp: Path, name: str, **changes) -> dict:
    data = {
        "name": name,
        "output_dir": str(tmp / "{name}"),
        "policy": {"name": "random", "params": {"seed": 1, "scale": 0.5}},
        "episodes": {"suite": "libero_spatial", "tasks": [0], "init_states": [0, 1]},
        "env": {"max_steps": 6, "collision": {"static_threshold_n": 30.0}},
        "risk": {"source": "constant", "params": {"value": 0.5}},
        "interventions": [
            {"name": "none"},
            {"name": "stop", "threshold": 0.3, "label": "stop_end"},
            {"name": "stop", "threshold": 0.0, "label": "stop_zero"},
        ],
    }
    data.update(changes)
    return data


@pytest.fixture(scope="module")
def stop_run(tmp_path_factory) -> Path:
    cfg = parse_config(_cfg(tmp_path_factory.mktemp("stop"), "stop"))
    return run(cfg, workers=1, progress=False)


def test_stop_ends_episodes_consistently(stop_run: Path) -> None:
    store = ResultsStore.read(stop_run)
    eps = {(e["intervention"], e["init_state"]): e for e in store.episodes().to_pylist()}
    steps = store.steps().to_pylist()
    for label in ("stop_end", "stop_zero"):
        for k in (0, 1):
            e = eps[(label, k)]
            assert e["termination_reason"] == "stopped" and not e["success"]
            assert e["steps"] == 1 and e["first_intervention_step"] == 0 and e["n_interventions"] == 1
            rows = [s for s in steps if s["episode_key"] == e["episode_key"]]
            assert len(rows) == 1 and rows[0]["intervention_active"]
            assert rows[0]["executed_action"][:6] == [0.0] * 6  # the hold step was executed
    base = eps[("none", 0)]
    assert base["steps"] == 6 and base["termination_reason"] == "timeout"
    text, paths = report(stop_run)
    assert "stop_end" in text and "stop_zero" in text
    csv = paths["csv"].read_text()
    assert csv.count("stop_end") >= 1


def test_collision_thresholds_from_the_env_section(stop_run: Path) -> None:
    e = ResultsStore.read(stop_run).episodes().to_pylist()[0]
    env = json.loads(e["env_kwargs"])
    assert env["collision"]["static_threshold_n"] == 30.0 and env["collision"]["movable_threshold_n"] == 0.5


def test_damaged_episode_is_moved_aside_and_rerun(tmp_path: Path, capsys) -> None:
    data = _cfg(tmp_path, "damaged", interventions=[{"name": "none"}])
    cfg = parse_config(data)
    run_dir = run(cfg, workers=1, progress=False)
    ep_file = sorted((run_dir / "episodes").glob("*.parquet"))[0]
    before = ResultsStore.read(run_dir).episodes().to_pylist()
    raw = ep_file.read_bytes()
    ep_file.write_bytes(raw[: len(raw) // 2])  # a copy cut short
    text, _ = report(run_dir)
    assert f"episodes/{ep_file.name}" in text and "does not read back" in text and "(1 episodes)" in text
    capsys.readouterr()
    run(cfg, workers=1, progress=False)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "unreadable episode" in line]
    assert (
        len(lines) == 1 and "moved 1 unreadable episode(s) aside" in lines[0] and ep_file.name in lines[0]
    ), err
    moved = list((run_dir / "damaged").glob(f"*/episodes/{ep_file.name}"))
    assert len(moved) == 1 and moved[0].read_bytes() == raw[: len(raw) // 2]
    after = ResultsStore.read(run_dir).episodes().to_pylist()
    strip = {"wall_time_s", "started_utc"}
    assert [{k: v for k, v in r.items() if k not in strip} for r in after] == [
        {k: v for k, v in r.items() if k not in strip} for r in before
    ]
