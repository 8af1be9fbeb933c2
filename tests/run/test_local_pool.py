"""The local pool keeps its worker state for the whole run: one env build across phases and chunks."""

from __future__ import annotations

from mistvla.harness.config.run import parse_config
from mistvla.harness.run.plan import plan_episodes
from mistvla.harness.run.pool import LocalPool


def test_env_is_built_once_across_phases(tmp_path):
    cfg = parse_config(
        {
            "name": "pool",
            "output_dir": str(tmp_path / "{name}"),
            "policy": {"name": "random", "params": {"seed": 1}},
            "episodes": {"suite": "libero_spatial", "tasks": [0], "init_states": [0, 1]},
            "calibration": {"init_states": [45]},
            "env": {"max_steps": 3},
            "risk": {"source": "constant"},
        }
    )
    with LocalPool(cfg, 1) as pool:
        calib = list(pool.run(plan_episodes(cfg, calibration=True), {"none": None}))
        worker = pool.worker
        env = worker.envs[("libero_spatial", 0)]
        evals = list(pool.run(plan_episodes(cfg), {"none": None}))
        assert worker.envs[("libero_spatial", 0)] is env and worker.held_task == ("libero_spatial", 0)
    assert pool.env_builds == 1
    assert [r.record["init_state"] for r in calib + evals] == [45, 0, 1]
    assert pool.worker is None and worker.envs == {}  # closed: env closed, state cleared
