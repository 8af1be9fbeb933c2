"""Shared by the run tests: a run's tables in a form two runs can be compared by."""

from __future__ import annotations

from pathlib import Path

import pytest

from mistvla.harness.results.store import ResultsStore

VOLATILE = {"wall_time_s", "started_utc", "run_id"}
"""Episode fields that differ between two runs of the same config (wall clock, run identity)."""


def comparable_tables(run_dir: Path) -> tuple[ResultsStore, list[dict], list[dict]]:
    """The store, its episode rows without :data:`VOLATILE` and its step rows, each sorted by key."""
    store = ResultsStore.read(run_dir)
    eps = sorted(
        ({k: v for k, v in r.items() if k not in VOLATILE} for r in store.episodes().to_pylist()),
        key=lambda r: r["episode_key"],
    )
    steps = sorted(
        ({k: v for k, v in r.items() if k != "run_id"} for r in store.steps().to_pylist()),
        key=lambda r: (r["episode_key"], r["step"]),
    )
    return store, eps, steps


@pytest.fixture(scope="session")
def run_tables():
    """:func:`comparable_tables`, as a fixture."""
    return comparable_tables
