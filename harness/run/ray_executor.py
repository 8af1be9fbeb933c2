"""The Ray executor: env workers as Ray actors, this process the single writer of the results store.

``executor: {kind: ray}`` in a run config. Each actor is one process holding
the policy and one env (the task it last ran, as a local worker does), or, with
``policy_server``, a stand-in for the one policy actor that serves them all
batched (:mod:`~mistvla.harness.run.policy_server`); the
driver hands it one episode at a time (a group with ``lockstep: N``), preferring the task whose env it holds
(:class:`~mistvla.harness.run.dispatch.WorkQueue`), and writes each result as
it arrives. An actor that dies mid-episode is restarted by Ray and its episode
rerun there (``max_restarts`` / ``max_task_retries``; a dead policy server stops the run): the lost episode never
reached the store, so nothing is duplicated, and every episode is seeded by its
spec, so the rerun gives the same record. ``ray`` is imported here and in
:mod:`~mistvla.harness.run.remote_policy` only.
See ``docs/distributed.md``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from mistvla.harness.config.run import RunConfig
from mistvla.harness.run.dispatch import WorkQueue
from mistvla.harness.run.episode import EpisodeResult
from mistvla.harness.run.plan import EpisodeSpec, env_key
from mistvla.harness.run.ray_cluster import init_private_cluster, join_cluster


class EnvWorker:
    """The body of one env actor: a :class:`~mistvla.harness.run.worker.Worker` in its process."""

    def __init__(self, cfg_data: dict[str, Any], server: Any = None) -> None:
        from mistvla.harness.run.worker import Worker

        self._remote = None
        if server is not None:  # the policy lives in the server actor; this one holds a stand-in
            import ray

            from mistvla.harness.run.remote_policy import RemotePolicy

            self._remote = RemotePolicy(server, ray.get(server.describe.remote()))
        self._worker = Worker.from_data(cfg_data, threads=1, policy=self._remote)

    def run_episodes(
        self, specs: list[EpisodeSpec], thresholds: dict[str, float | None]
    ) -> list[EpisodeResult]:
        """One episode, or one lock-step group (``lockstep: N``), of one task."""
        results = list(self._worker.run_chunk(specs, thresholds))
        if self._remote is not None:
            self._remote.raise_if_lost()  # never return episodes cut short by a lost server
            self._remote.close_episodes()
        return results

    def pid(self) -> int:
        return os.getpid()


class RayPool:
    """``with RayPool(cfg, workers) as pool: for result in pool.run(specs, thresholds): ...``"""

    def __init__(self, cfg: RunConfig, workers: int) -> None:
        self.cfg = cfg
        self.workers = max(1, workers)
        self._actors: list[Any] = []
        self._servers: list[Any] = []
        self._held: list[tuple[str, int] | None] = []
        self._owns_cluster = False
        self.env_builds = 0
        """Episodes handed to an actor that did not hold their task's env."""

    def __enter__(self) -> RayPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start(self) -> None:
        import ray

        if self._actors:
            return
        ex = self.cfg.executor
        if not ray.is_initialized():
            if ex.address is None:  # a private cluster: loopback only (ray_cluster.py)
                init_private_cluster(ex.num_cpus)
            else:
                join_cluster(ex.address)
            self._owns_cluster = True
        actor = ray.remote(EnvWorker).options(
            num_cpus=ex.cpus_per_worker,
            max_restarts=ex.max_restarts,
            max_task_retries=ex.max_restarts,
        )
        data = self.cfg.to_dict()
        self._servers = []
        ps = ex.policy_server
        if ps is not None:
            from mistvla.harness.run.policy_server import PolicyServer

            server = ray.remote(PolicyServer).options(num_gpus=ps.num_gpus, num_cpus=ps.num_cpus)
            self._servers = [server.remote(data, ps.max_batch, ps.wait_ms) for _ in range(ps.replicas)]
        self._actors = [
            actor.remote(data, self._servers[i % len(self._servers)] if self._servers else None)
            for i in range(self.workers)
        ]
        self._held = [None] * self.workers

    def pids(self) -> list[int]:
        """The actors' process ids (e.g. to kill one in a fault-tolerance test)."""
        import ray

        return ray.get([a.pid.remote() for a in self._actors])

    def server_stats(self) -> list[dict[str, int]]:
        """Each policy server's batched calls and items so far (empty without a server)."""
        import ray

        return ray.get([s.stats.remote() for s in self._servers])

    def close(self) -> None:
        if not self._actors and not self._owns_cluster:
            return
        import ray

        for actor in self._actors:
            ray.kill(actor)
        self._actors = []
        for server in self._servers:
            ray.kill(server)
        self._servers = []
        if self._owns_cluster:
            ray.shutdown()
            self._owns_cluster = False

    def run(self, specs: list[EpisodeSpec], thresholds: dict[str, float | None]) -> Iterator[EpisodeResult]:
        """Run ``specs`` on the actors, yielding each result as soon as it arrives (in any order)."""
        if not specs:
            return
        import ray

        self._start()
        queue = WorkQueue(specs, self.workers)
        pending: list[list[EpisodeSpec]] = [[] for _ in self._actors]
        in_flight: dict[Any, int] = {}
        size = self.cfg.lockstep

        def submit(idx: int) -> None:
            if not pending[idx]:
                chunk = queue.next_chunk(self._held[idx])
                if chunk is None:
                    return
                pending[idx] = list(chunk)
            group, pending[idx] = pending[idx][:size], pending[idx][size:]
            task = env_key(group[0])
            self.env_builds += task != self._held[idx]
            self._held[idx] = task
            in_flight[self._actors[idx].run_episodes.remote(group, thresholds)] = idx

        for idx in range(len(self._actors)):
            submit(idx)
        while in_flight:
            (ref,), _ = ray.wait(list(in_flight), num_returns=1)
            idx = in_flight.pop(ref)
            results = ray.get(ref)
            submit(idx)  # keep the actor busy while the caller writes these results
            yield from results
