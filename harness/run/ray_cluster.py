"""Starting Ray: a private single-machine cluster bound to 127.0.0.1, or joining one the user started.

A private cluster (``executor.address: null``, the tests, the benchmarks) has
127.0.0.1 as its node address: the GCS address, the raylet, the object
store and every worker's address are ``127.0.0.1:<port>``, so no process of
the cluster sends anything to another address. Ray 2.60 does not make this
easy: ``ray.init(_node_ip_address="127.0.0.1")`` (and ``ray start
--node-ip-address 127.0.0.1``) deliberately *replace* a loopback address with
the machine's routable one (``services.resolve_ip_for_localhost``) unless
Ray's local-only mode is on (``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``, read
into ``ray_constants.ENABLE_RAY_CLUSTER`` when ray is imported). So the
private cluster is started with that mode on for the duration of ``ray.init``
(the environment variable for the processes it spawns, the constant for an
already imported ray), then both are put back. ``tests/run/test_ray_loopback.py``
checks the node and GCS addresses and every socket of the cluster's processes
(with a loopback node address Ray's gRPC servers also *listen* on 127.0.0.1
only), so a Ray upgrade that changes this fails loudly.

Joining a running cluster (``address: auto`` or ``host:port``) uses whatever
address the user chose when starting it (``ray start --head --node-ip-address
...``): a routable address is the user's explicit choice, see ``docs/distributed.md``.
``ray`` is imported inside the functions (it is the ``distributed`` extra).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

LOOPBACK = "127.0.0.1"
LOCAL_ONLY_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
"""Ray's switch for local-only clusters ("0": node addresses resolve to loopback)."""


@contextmanager
def _local_only_mode() -> Iterator[None]:
    saved_env = os.environ.get(LOCAL_ONLY_ENV)
    os.environ[LOCAL_ONLY_ENV] = "0"
    constants = sys.modules.get("ray._private.ray_constants")
    saved_flag = getattr(constants, "ENABLE_RAY_CLUSTER", None)
    if constants is not None:
        constants.ENABLE_RAY_CLUSTER = False
    try:
        yield
    finally:
        if saved_env is None:
            os.environ.pop(LOCAL_ONLY_ENV, None)
        else:
            os.environ[LOCAL_ONLY_ENV] = saved_env
        if constants is not None:
            constants.ENABLE_RAY_CLUSTER = saved_flag


def init_private_cluster(num_cpus: int | None = None, **kwargs: Any) -> None:
    """``ray.init`` of a new single-machine cluster on 127.0.0.1, quiet (no dashboard, no log forwarding)."""
    with _local_only_mode():
        import ray  # inside: a first import reads the local-only switch

        ray.init(
            address=None,
            num_cpus=num_cpus,
            include_dashboard=False,
            log_to_driver=False,
            _node_ip_address=LOOPBACK,
            **kwargs,
        )


def join_cluster(address: str) -> None:
    """``ray.init`` against a running cluster (``auto`` or ``host:port``), passing this process's ``MUJOCO_GL``."""
    import ray

    env = {"MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl")}
    ray.init(address=address, include_dashboard=False, log_to_driver=False, runtime_env={"env_vars": env})


def node_addresses() -> list[str]:
    """The IP address of every live node of the connected cluster (``ray.nodes()``)."""
    import ray

    return sorted({n["NodeManagerAddress"] for n in ray.nodes() if n.get("Alive")})
