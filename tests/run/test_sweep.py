"""A perturbation sweep on real LIBERO: the grid plan, clean episodes unchanged, params recorded, the table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mistvla.harness.config.run import parse_config
from mistvla.harness.errors import ConfigError
from mistvla.harness.report.build import report
from mistvla.harness.report.html.data import load_report_data
from mistvla.harness.results.store import ResultsStore
from mistvla.harness.run.run_command import plan_episodes, run

VOLATILE = {"wall_time_s", "started_utc", "run_id"}


def config(tmp: Path, name: str, sweep: dict | None) -> dict:
    data = {
        "name": name,
        "output_dir": str(tmp / "{name}"),
        "policy": {"name": "random", "params": {"seed": 3, "scale": 0.8}},
        "episodes": {"suite": "libero_spatial", "tasks": [0], "init_states": [0, 1], "seeds": [0]},
        "env": {"max_steps": 8, "cameras": []},
        "interventions": [{"name": "none"}, {"name": "slow", "factor": 0.5, "threshold": 0.0}],
    }
    if sweep is not None:
        data["sweep"] = sweep
    return data


SWEEP = {
    "perturbations": [
        {"name": "latency", "levels": [0, 2]},
        {"name": "robot_init", "levels": [3]},
    ],
    "cross_interventions": False,
}


def records(run_dir: Path) -> dict[str, dict]:
    rows = ResultsStore.read(run_dir).episodes().to_pylist()
    return {r["episode_key"]: {k: v for k, v in r.items() if k not in VOLATILE} for r in rows}


def test_plan_is_the_grid_with_the_clean_env_first():
    cfg = parse_config(config(Path("/tmp"), "p", {**SWEEP, "cross_interventions": True}))
    conditions = [(s.id.perturbation, s.id.perturbation_level, s.id.intervention) for s in plan_episodes(cfg)]
    assert conditions[:2] == [("none", 0, "none")] * 2  # level 0 of latency is the clean env, run once
    assert len(conditions) == 3 * 2 * 2  # (clean, latency L2, robot_init L3) x 2 interventions x 2 inits
    plain = parse_config(config(Path("/tmp"), "p", None))
    clean = [s.key for s in plan_episodes(cfg) if s.id.is_clean]
    assert clean == [s.key for s in plan_episodes(plain)]  # clean keys are the keys without a sweep


def test_include_clean_false_plans_only_the_perturbed_conditions_with_the_same_keys():
    swept = parse_config(config(Path("/tmp"), "p", {**SWEEP, "cross_interventions": True}))
    only = parse_config(
        config(Path("/tmp"), "p", {**SWEEP, "cross_interventions": True, "include_clean": False})
    )
    assert [s.key for s in plan_episodes(only)] == [s.key for s in plan_episodes(swept) if not s.id.is_clean]
    assert only.conditions() == ["latency L2", "robot_init L3"]
    with pytest.raises(ConfigError, match="include_clean: false needs a perturbation with a level above 0"):
        parse_config(config(Path("/tmp"), "p", {"perturbations": [{"name": "latency", "levels": [0]}],
                                                "include_clean": False}))  # fmt: skip


def test_bad_sweeps_are_refused_naming_the_field():
    with pytest.raises(ConfigError, match=r"sweep\.perturbations\[0\]: unknown perturbation 'camra'"):
        parse_config(config(Path("/tmp"), "p", {"perturbations": [{"name": "camra"}]}))
    with pytest.raises(ConfigError, match="corruption must be one of"):
        parse_config(
            config(
                Path("/tmp"),
                "p",
                {"perturbations": [{"name": "sensor_noise", "params": {"corruption": "x"}}]},
            )
        )


def test_sweep_runs_pairs_and_keeps_clean_episodes_identical(tmp_path):
    plain_dir = run(parse_config(config(tmp_path, "plain", None)), workers=1, progress=False)
    sweep_dir = run(parse_config(config(tmp_path, "sweep", SWEEP)), workers=1, progress=False)
    plain, swept = records(plain_dir), records(sweep_dir)
    assert len(swept) == 2 * 2 + 2 * 2  # clean x 2 interventions + 2 perturbations x base only
    for key, rec in plain.items():  # same key, same outcome, same steps: the sweep does not touch clean runs
        assert {k: v for k, v in swept[key].items() if k != "episode_index"} == {
            k: v for k, v in rec.items() if k != "episode_index"
        }
    perturbed = [r for r in swept.values() if r["perturbation"] != "none"]
    assert {(r["perturbation"], r["perturbation_level"]) for r in perturbed} == {
        ("latency", 2),
        ("robot_init", 3),
    }
    params = json.loads(
        next(r for r in perturbed if r["perturbation"] == "robot_init")["perturbation_params"]
    )
    assert params[0]["name"] == "robot_init" and len(params[0]["params"]["joint_offset"]) == 7
    text, paths = report(sweep_dir)
    assert "Robustness to env perturbations" in text and "latency" in text
    # the terminal leads with the per-condition comparison, and the HTML page's rows are the same ones
    assert text.index("Interventions per condition") < text.index("Robustness to env perturbations")
    page_rows = load_report_data([sweep_dir]).rows
    crossed = paths["interventions_by_condition_csv"].read_text().splitlines()[1:]
    assert [(r.scope, r.intervention) for r in page_rows] == [
        (c.split(",")[0], c.split(",")[2]) for c in crossed
    ]
    assert [r.scope for r in page_rows] == ["clean", "clean"]  # perturbed conditions ran the base only
    csv = paths["robustness_csv"].read_text().splitlines()
    assert len(csv) == 1 + 3 + 1  # header, base x 3 conditions, slow clean
    assert paths["robustness_png"].stat().st_size > 1000
