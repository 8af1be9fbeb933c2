"""The episode profiler times real episodes without changing them, and accounts for the wall time."""

from __future__ import annotations

import pytest

from mistvla.harness.config.run import parse_config
from mistvla.harness.results.store import ResultsStore
from mistvla.harness.run.plan import plan_episodes
from mistvla.harness.run.profile import PHASES, format_profile, profile_episodes
from mistvla.harness.run.run_identity import identity
from mistvla.harness.run.worker import Worker

VOLATILE = {"wall_time_s", "started_utc", "run_id"}


@pytest.mark.parametrize("lockstep", [1, 2])
def test_profiled_episodes_are_the_unprofiled_ones_and_the_phases_add_up(tmp_path, lockstep):
    cfg = parse_config({
        "name": "prof", "output_dir": str(tmp_path / "{name}"),
        "policy": {"name": "random", "params": {"seed": 3, "scale": 0.8}},
        "episodes": {"suite": "libero_spatial", "tasks": [0], "init_states": [0, 1]},
        "env": {"max_steps": 12, "cameras": ["agentview"], "image_size": 32},
        "risk": {"source": "oracle"},
        "interventions": [{"name": "none"}, {"name": "slow", "factor": 0.5, "threshold": 0.0}],
        "lockstep": lockstep,
    })  # fmt: skip
    specs = plan_episodes(cfg)
    profile = profile_episodes(cfg, specs, tmp_path / "store")
    worker = Worker(cfg)
    try:
        plain = list(worker.run_chunk(specs, {"none": None, "slow": 0.0}))  # the unprofiled worker's way
    finally:
        worker.close()
    with ResultsStore.open(tmp_path / "plain", identity(cfg)) as store:
        for result in plain:
            store.write_episode(result.record, result.steps, result.hidden or None)
    tables = []
    for name in ("store", "plain"):
        store = ResultsStore.read(tmp_path / name)
        episodes = [{k: v for k, v in r.items() if k not in VOLATILE} for r in store.episodes().to_pylist()]
        steps = [{k: v for k, v in r.items() if k not in VOLATILE} for r in store.steps().to_pylist()]
        steps.sort(key=lambda r: (r["episode_key"], r["step"]))
        tables.append((sorted(episodes, key=lambda r: r["episode_key"]), steps))
    assert tables[0] == tables[1]  # timed, not changed: every episode and step field identical
    assert profile["steps"] == sum(r.record["steps"] for r in plain)
    assert profile["calls"]["policy"] == profile["steps"] and profile["calls"]["render"] > 0
    assert profile["calls"]["env_step"] == profile["steps"]  # every env of a lock-step group is timed
    timed = sum(profile["seconds"].get(k, 0.0) for k, _ in PHASES)
    assert 0.9 * profile["wall_s"] <= timed <= profile["wall_s"] * 1.0001
    assert "| rendering |" in format_profile(profile, "t")
