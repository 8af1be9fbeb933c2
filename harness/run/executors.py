"""Choosing where episodes run: ``executor.kind`` ``local`` (worker processes) or ``ray`` (actors).

Both are context managers with ``run(specs, thresholds)`` yielding each
:class:`~mistvla.harness.run.episode.EpisodeResult` as it finishes; the caller
stays the single writer of the results store. Ray is imported only by
:mod:`~mistvla.harness.run.ray_executor`, and only when a run asks for it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

from mistvla.harness.config.run import RunConfig
from mistvla.harness.run.episode import EpisodeResult
from mistvla.harness.run.plan import EpisodeSpec


class Executor(Protocol):
    env_builds: int

    def __enter__(self) -> Executor: ...

    def __exit__(self, *exc: object) -> Any: ...

    def run(
        self, specs: list[EpisodeSpec], thresholds: dict[str, float | None]
    ) -> Iterator[EpisodeResult]: ...


def open_executor(cfg: RunConfig, workers: int) -> Executor:
    """The executor ``cfg.executor`` names, with ``workers`` env workers (enter it to start them)."""
    if cfg.executor.kind == "ray":
        from mistvla.harness.run.ray_executor import RayPool

        return RayPool(cfg, workers)
    from mistvla.harness.run.pool import LocalPool

    return LocalPool(cfg, workers)
