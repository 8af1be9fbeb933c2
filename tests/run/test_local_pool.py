"""The local pool keeps its worker state for the whole run: one env build across phases and chunks."""

from __future__ import annotations

from mistvla.harness.config.run import parse_config
from mistvla.harness.run import workers as worker_state
from mistvla.harness.run.plan import plan_episodes
from mistvla.harness.run.pool import LocalPool, held_task


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
        env = worker_state._WORKER["envs"][("libero_spatial", 0)]
        evals = list(pool.run(plan_episodes(cfg), {"none": None}))
        assert worker_state._WORKER["envs"][("libero_spatial", 0)] is env and held_task() == (
            "libero_spatial",
            0,
        )
    assert pool.env_builds == 1
    assert [r.record["init_state"] for r in calib + evals] == [45, 0, 1]
    assert worker_state._WORKER == {}  # closed: env closed, state cleared
