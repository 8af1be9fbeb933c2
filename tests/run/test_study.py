"""The statistical plan of a run: pre-registration, the power plan, the stopping rule, the report's questions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mistvla.harness.cli import main
from mistvla.harness.config.run import parse_config
from mistvla.harness.errors import ConfigError, StoreError
from mistvla.harness.report.build import report
from mistvla.harness.results.store import ResultsStore
from mistvla.harness.run.plan import plan_episodes
from mistvla.harness.run.run_command import run
from mistvla.harness.run.sequential_run import STOPPING_FILE, next_round, ordered_units, replay
from mistvla.harness.run.study import describe_power, power_lines, power_override, preregister
from mistvla.harness.stats.prereg import parse_prereg, read_prereg
from mistvla.harness.stats.sequential import Question, SequentialMonitor

HYPOTHESES = [{"row": "slow", "metric": "sr", "direction": "greater"}]


def config(tmp: Path, stats: dict | None = None, init_states: int = 4, **more) -> dict:
    data = {
        "name": "study",
        "output_dir": str(tmp / "{name}"),
        "policy": {"name": "random", "params": {"seed": 3, "scale": 0.8}},
        "episodes": {
            "suite": "libero_spatial",
            "tasks": [0],
            "init_states": list(range(init_states)),
            "seeds": [0],
        },
        "env": {"max_steps": 8, "cameras": []},
        "interventions": [{"name": "none"}, {"name": "slow", "factor": 0.5, "threshold": 0.0}],
        **more,
    }
    if stats is not None:
        data["stats"] = stats
    return data


def test_bad_statistical_plans_are_refused_naming_the_field(tmp_path):
    bad = [
        (
            {"hypotheses": [{"row": "mist", "metric": "sr"}]},
            r"stats.hypotheses\[0\].row: 'mist' is not an intervention",
        ),
        (
            {"hypotheses": [{"row": "slow", "metric": "sr", "condition": "latency L2"}]},
            r"stats.hypotheses\[0\].condition: 'latency L2' is not a condition of this run",
        ),
        (
            {"hypotheses": HYPOTHESES, "power": {"effect_pp": 0, "assume": {"discordance": 0.3}}},
            r"stats.power: effect_pp must be in \(0, 100\)",
        ),
        (
            {"hypotheses": HYPOTHESES, "power": {"effect_pp": 100, "assume": {"discordance": 0.3}}},
            r"stats.power: effect_pp must be in \(0, 100\)",
        ),
        (
            {"hypotheses": [{**HYPOTHESES[0], "alpha": 0.5}]},
            r"stats.hypotheses\[0\]: alpha must be in \(0, 0.5\)",
        ),
        (
            {"hypotheses": HYPOTHESES, "stopping": {"alpha": 0, "max_units": 4}},
            r"stats.stopping: alpha must be",
        ),
        (
            {"hypotheses": HYPOTHESES, "stopping": {"min_units": 5, "max_units": 4}},
            r"stats.stopping: max_units \(4\) must be >= min_units \(5\)",
        ),
        ({"stopping": {"max_units": 4}}, "stats: stopping needs hypotheses"),
    ]
    for stats, message in bad:
        with pytest.raises(ConfigError, match=message):
            parse_config(config(tmp_path, stats))


def test_power_plan_counts_units_and_warns_when_too_few(tmp_path):
    stats = {"hypotheses": HYPOTHESES, "power": {"effect_pp": 10, "assume": {"discordance": 0.3}}}
    cfg = parse_config(config(tmp_path, stats))
    (line,) = power_lines(cfg)
    assert line.planned == 4 and line.needed is not None and line.enough is False
    assert line.needed.n > 150  # ~10 pp at 30 % discordance needs hundreds of pairs, one-sided
    assert "NOT enough" in describe_power(cfg)
    bigger = power_override(cfg, "20pp", None)
    assert power_lines(cfg, bigger)[0].needed.n < line.needed.n
    with pytest.raises(ConfigError, match="--effect: must be in"):
        power_override(cfg, "0pp", None)
    bare = parse_config(config(tmp_path))
    with pytest.raises(ConfigError, match=r"--power: the config has no stats\.power block"):
        power_override(bare, "10pp", None)


def test_replay_feeds_complete_units_in_the_planned_order_and_stops_when_resolved(tmp_path):
    stats = {"hypotheses": HYPOTHESES, "stopping": {"min_units": 3, "max_units": 40}}
    cfg = parse_config(config(tmp_path, stats, init_states=40))
    prereg = parse_prereg({**json.loads(json.dumps(_record(cfg))), "created_utc": "x"})
    units = ordered_units(plan_episodes(cfg))
    assert [k[2] for k, _ in units] == list(range(40))  # init states in order, every arm of a unit together
    records = [
        {**s.id.as_record(), "success": s.id.intervention == "slow", "n_collision_onsets": 0}
        for _, specs in units[:30]
        for s in specs
    ]
    decision, fed = replay(prereg, units, records)
    reference = SequentialMonitor([Question("slow/sr", "greater")], 0.05, 3, 40)
    n = next(i for i in range(1, 41) if reference.update({"slow/sr": (True, False)}).stop)
    assert decision.stop and fed == n < 30
    missing = [r for r in records if not (r["init_state"] == 2 and r["intervention"] == "none")]
    assert replay(prereg, units, missing)[1] == 2  # the prefix ends at the first incomplete unit
    assert (
        len(next_round(units, 0, 3)) == 3 * 2 and len(next_round(units, 5, 3)) == 2
    )  # min_units, then 1 group


def _record(cfg):
    from mistvla.harness.run.run_identity import identity
    from mistvla.harness.stats.prereg import build_prereg

    return build_prereg(identity(cfg), cfg.stats.hypotheses, cfg.stats.stopping)


def test_stopping_rule_on_real_libero_preregistered_resumable_and_reported(tmp_path, capsys):
    stats = {"hypotheses": HYPOTHESES, "stopping": {"min_units": 2, "max_units": 3}}
    data = config(tmp_path, stats)
    cfg = parse_config(data)
    with pytest.raises(ConfigError, match=r"stats\.stopping: rule anytime_valid needs a pre-registration"):
        run(cfg, progress=False)
    assert not (cfg.run_dir / "episodes").exists()
    path = Path(tmp_path / "study.yaml")
    path.write_text(json.dumps(data))
    assert main(["preregister", str(path)]) == 0
    assert read_prereg(cfg.run_dir).config_hash
    with pytest.raises(StoreError, match="a pre-registration exists already"):
        preregister(cfg)
    changed = parse_config({**data, "seed": 7})
    with pytest.raises(ConfigError, match=r"stats\.stopping: the config changed after pre-registration"):
        run(changed, progress=False)
    run(cfg, progress=False)
    rows = ResultsStore.read(cfg.run_dir).episodes().to_pylist()
    assert sorted((r["init_state"], r["intervention"]) for r in rows) == [
        (i, arm) for i in range(3) for arm in ("none", "slow")
    ]  # 3 whole units (max_units), the 4th never started
    stopping = json.loads((cfg.run_dir / STOPPING_FILE).read_text())
    assert (
        stopping["n_units"] == 3
        and stopping["fraction_saved"] == 0.25
        and "max_units=3" in stopping["reason"]
    )
    run(cfg, progress=False)  # resumed: the same decision, nothing more runs
    assert ResultsStore.read(cfg.run_dir).episodes().num_rows == 6
    (cfg.run_dir / "prereg.json").rename(tmp_path / "prereg.json")
    with pytest.raises(StoreError, match="episodes exist already"):
        preregister(cfg)  # too late: a registration after the first episode is not one
    (tmp_path / "prereg.json").rename(cfg.run_dir / "prereg.json")
    text, paths = report(cfg.run_dir)
    assert "slow/sr" in text and "confirmatory: pre-registered (greater" in text
    assert "e-value" in paths["prereg_tests"].read_text()
