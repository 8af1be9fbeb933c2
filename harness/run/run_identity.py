"""The identity of a run: the part of its config that decides its results (what the store's manifest holds).

>>> from mistvla.harness.config.run import parse_config
>>> cfg = parse_config({"name": "t", "policy": {"name": "random"}, "workers": 4,
...                     "episodes": {"suite": "libero_spatial", "tasks": [0], "init_states": [0]}})
>>> "workers" in identity(cfg), identity(cfg)["name"]
(False, 't')
"""

from __future__ import annotations

from typing import Any

from mistvla.harness.config.run import RunConfig


def identity(cfg: RunConfig) -> dict[str, Any]:
    """The config that decides results: everything but the worker count and executor (results do not depend on them)."""
    data = cfg.to_dict()
    data.pop("workers")
    data.pop("executor", None)
    if data.get("lockstep") == 1:  # one episode at a time: the identity runs had before lock-step existed
        data.pop("lockstep", None)
    if data.get("sweep") is None:  # runs without a sweep keep the identity they had before sweeps existed
        data.pop("sweep", None)
    if data.get("stats") is None:  # runs without a statistical plan keep their earlier identity
        data.pop("stats", None)
    if not data.get("report", {}).get("reference"):  # kept when set: `mistvla report` reads it back
        data.pop("report", None)
    return data
