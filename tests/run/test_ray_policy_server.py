"""The policy server on a real local Ray cluster: the reference policy (hidden states captured) served
batched to two env actors (one of them SIGKILLed mid-episode; or running lock-step pairs) gives the local
executor's episode table, and its steps and hidden states."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from mistvla.harness.config.run import parse_config
from mistvla.harness.run.ray_cluster import init_private_cluster
from mistvla.harness.run.run_command import run

ray = pytest.importorskip("ray")

CHECKPOINT = Path(__file__).resolve().parents[2] / "experiments/artifacts/reference/libero_spatial"
SERVER = {"num_cpus": 0, "max_batch": 4, "wait_ms": 20}


def config(tmp: Path, executor: dict, workers: int, lockstep: int = 1):
    capture = {"points": ["llm.blocks.1.resid_post"], "positions": ["last_prompt"]}
    return parse_config(
        {
            "name": "psrun",
            "output_dir": str(tmp / executor["kind"]),
            "policy": {"name": "reference", "params": {"checkpoint": str(CHECKPOINT), "capture": capture}},
            "episodes": {"suite": "libero_spatial", "tasks": [0], "init_states": [0, 1]},
            "env": {"max_steps": 15},
            "risk": {"source": "oracle"},
            "interventions": [{"name": "none"}, {"name": "slow", "factor": 0.5, "threshold": 0.2}],
            "executor": executor,
            "workers": workers,
            "lockstep": lockstep,
        }
    )


def tables(run_tables, run_dir: Path) -> tuple[list[dict], list[dict], dict]:
    """Episode and step tables (conftest's comparable form) and every stored hidden state."""
    store, eps, steps = run_tables(run_dir)
    hidden = {(e["episode_key"], h): np.asarray(store.hidden(e["episode_key"], h)) for e in eps
              for h in e["hidden_layers"]}  # fmt: skip
    return eps, steps, hidden


@pytest.fixture(scope="module")
def cluster():
    init_private_cluster(num_cpus=2)
    yield
    ray.shutdown()


def _busy_env_actors() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "cmdline").read_bytes().startswith(
                b"ray::EnvWorker.run_episodes"
            ):
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


def _kill_one_mid_run(episodes_dir: Path, killed: dict[str, int]) -> None:
    deadline = time.time() + 240
    while time.time() < deadline and not killed:
        done = len(list(episodes_dir.glob("*.parquet"))) if episodes_dir.exists() else 0
        busy = _busy_env_actors()
        if done >= 1 and busy:
            os.kill(busy[0], signal.SIGKILL)
            killed.update(pid=busy[0], done=done)
        time.sleep(0.02)


@pytest.fixture(scope="module")
def local(tmp_path_factory, run_tables):
    return tables(
        run_tables,
        run(config(tmp_path_factory.mktemp("local"), {"kind": "local"}, workers=1), progress=False),
    )


def assert_same(served: tuple, local: tuple) -> None:
    assert len(local[0]) == 4 and local[0][0]["hidden_layers"]
    assert served[0] == local[0]  # the episode table: identical
    # steps and hidden states: a batched float32 forward rounds differently from a batch of one (about 1e-7)
    assert len(served[1]) == len(local[1])
    for a, b in zip(served[1], local[1], strict=True):
        assert {k: v for k, v in a.items() if not isinstance(v, list | float)} == {
            k: v for k, v in b.items() if not isinstance(v, list | float)
        }
        for k, v in a.items():
            if isinstance(v, list | float):
                np.testing.assert_allclose(np.asarray(v, float), np.asarray(b[k], float), atol=1e-5)
    assert served[2].keys() == local[2].keys()
    for key, arr in served[2].items():
        np.testing.assert_allclose(arr.astype(np.float32), local[2][key].astype(np.float32), atol=1e-2)


def test_policy_server_gives_the_local_tables_through_an_actor_kill(cluster, local, run_tables, tmp_path):
    cfg = config(tmp_path, {"kind": "ray", "policy_server": SERVER}, workers=2)
    killed: dict[str, int] = {}
    killer = threading.Thread(target=_kill_one_mid_run, args=(cfg.run_dir / "episodes", killed), daemon=True)
    killer.start()
    served = tables(run_tables, run(cfg, progress=False))
    killer.join()
    assert killed and killed["done"] < 4, "the kill should land mid-run"
    assert_same(served, local)


def test_lockstep_groups_through_the_policy_server_give_the_local_tables(
    cluster, local, run_tables, tmp_path
):
    cfg = config(tmp_path, {"kind": "ray", "policy_server": SERVER}, workers=2, lockstep=2)
    assert_same(tables(run_tables, run(cfg, progress=False)), local)
