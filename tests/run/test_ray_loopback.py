"""A private Ray cluster (``executor.address: null``) binds to 127.0.0.1 only: node, GCS, every socket."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mistvla.harness.config.run import parse_config
from mistvla.harness.run.plan import plan_episodes
from mistvla.harness.run.ray_cluster import LOCAL_ONLY_ENV, node_addresses
from mistvla.harness.run.ray_executor import RayPool

ray = pytest.importorskip("ray")
psutil = pytest.importorskip("psutil")


def _is_loopback(ip: str) -> bool:
    return ip in ("127.0.0.1", "::1", "::ffff:127.0.0.1")


def _sockets_of_this_process_tree() -> list[tuple[str, str, str]]:
    """(process name, local ip, remote ip or '') of every inet socket of this process and its descendants."""
    me = psutil.Process()
    out = []
    for proc in [me, *me.children(recursive=True)]:
        try:
            for c in proc.net_connections(kind="inet"):
                out.append((proc.name(), c.laddr.ip, c.raddr.ip if c.raddr else ""))
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return out


def test_the_private_cluster_of_a_ray_run_binds_to_loopback_only(tmp_path: Path) -> None:
    assert not ray.is_initialized()
    cfg = parse_config(
        {
            "name": "loopback",
            "output_dir": str(tmp_path),
            "policy": {"name": "random", "params": {"seed": 1}},
            "episodes": {"suite": "libero_spatial", "tasks": [0], "init_states": [0]},
            "env": {"max_steps": 5},
            "interventions": [{"name": "none"}],
            "executor": {"kind": "ray", "address": None, "num_cpus": 1},
            "workers": 1,
        }
    )
    with RayPool(cfg, 1) as pool:
        results = list(pool.run(plan_episodes(cfg), {"none": None}))
        assert len(results) == 1  # the actor really ran (its worker process is up)
        assert node_addresses() == ["127.0.0.1"]
        assert ray.get_runtime_context().gcs_address.startswith("127.0.0.1:")
        sockets = _sockets_of_this_process_tree()
        names = {name for name, _, _ in sockets}
        assert "gcs_server" in names and "raylet" in names, names  # the cluster's own processes were seen
        wide = [s for s in sockets if not _is_loopback(s[1]) or (s[2] and not _is_loopback(s[2]))]
        assert not wide, wide
        assert LOCAL_ONLY_ENV not in os.environ  # Ray's local-only switch was put back after ray.init
    assert not ray.is_initialized()  # the pool owned the cluster and shut it down
