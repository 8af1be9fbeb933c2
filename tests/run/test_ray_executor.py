"""The Ray executor on a real local Ray cluster: same tables as local, an actor killed mid-episode loses nothing."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from mistvla.harness.config.run import parse_config
from mistvla.harness.run.ray_cluster import init_private_cluster
from mistvla.harness.run.run_command import run

ray = pytest.importorskip("ray")


def config(tmp: Path, kind: str, workers: int = 1):
    return parse_config(
        {
            "name": "rayrun",
            "output_dir": str(tmp / kind),
            "policy": {"name": "random", "params": {"seed": 5}},
            "episodes": {"suite": "libero_spatial", "tasks": [0], "init_states": [0, 1, 2]},
            "env": {"max_steps": 40},
            "risk": {"source": "oracle"},
            "interventions": [{"name": "none"}, {"name": "slow", "factor": 0.5, "threshold": 0.2}],
            "executor": {"kind": kind},
            "workers": workers,
        }
    )


@pytest.fixture(scope="module")
def cluster():
    init_private_cluster(num_cpus=2)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def local_tables(tmp_path_factory, run_tables):
    return run_tables(run(config(tmp_path_factory.mktemp("local"), "local"), progress=False))[1:]


def test_ray_gives_the_local_tables(cluster, local_tables, run_tables, tmp_path):
    assert run_tables(run(config(tmp_path, "ray", workers=2), progress=False))[1:] == local_tables


def _actor_pids(busy: bool) -> list[int]:
    title = "ray::EnvWorker.run_episodes" if busy else "ray::EnvWorker"
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "cmdline").read_bytes().startswith(title.encode()):
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


def test_an_actor_killed_mid_episode_loses_and_duplicates_nothing(
    cluster, local_tables, run_tables, tmp_path
):
    cfg = config(tmp_path, "ray", workers=2)
    episodes_dir = cfg.run_dir / "episodes"
    killed: dict[str, int] = {}

    def kill_one() -> None:
        deadline = time.time() + 240
        while time.time() < deadline and not killed:
            done = len(list(episodes_dir.glob("*.parquet"))) if episodes_dir.exists() else 0
            busy = _actor_pids(busy=True)
            if done >= 1 and busy:
                os.kill(busy[0], signal.SIGKILL)
                killed.update(pid=busy[0], done=done)
            time.sleep(0.02)

    killer = threading.Thread(target=kill_one, daemon=True)
    killer.start()
    run_dir = run(cfg, progress=False)
    killer.join()
    assert killed and killed["done"] < 6, "the kill should land mid-run"
    _, eps, steps = run_tables(run_dir)
    assert len(eps) == 6 and len({e["episode_key"] for e in eps}) == 6
    assert (eps, steps) == local_tables
