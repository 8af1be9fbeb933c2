"""The local executor: a pool of worker processes kept for the whole run, fed chunks from a queue.

Each worker process is spawned once per run (calibration and the episodes
phase share it), loads the policy once and keeps its env across chunks of the
same task (:class:`~mistvla.harness.run.dispatch.WorkQueue` hands it those
first). With one worker everything runs in this process. Results stream back
one episode at a time; the caller (the scheduler) is the only writer of the
results store.
"""

from __future__ import annotations

import queue as queue_module
from collections.abc import Iterator
from multiprocessing import get_context
from typing import Any

from mistvla.harness.config.run import RunConfig
from mistvla.harness.run.dispatch import WorkQueue
from mistvla.harness.run.episode import EpisodeResult
from mistvla.harness.run.plan import EpisodeSpec, env_key
from mistvla.harness.run.worker import Worker


def _pool_worker(wid: int, cfg_data: dict[str, Any], inbox: Any, outbox: Any) -> None:
    worker = None
    try:
        worker = Worker.from_data(cfg_data, threads=1)
        outbox.put(("idle", wid, None))
        while True:
            job = inbox.get()
            if job is None:
                return
            chunk, thresholds = job
            for result in worker.run_chunk(chunk, thresholds):
                outbox.put(("ok", wid, result))
            outbox.put(("idle", wid, worker.held_task))
    except BaseException as err:  # reported to the parent, which stops the run
        outbox.put(("error", wid, f"{type(err).__name__}: {err}"))
    finally:
        if worker is not None:
            worker.close()


class LocalPool:
    """``with LocalPool(cfg, workers) as pool: for result in pool.run(specs, thresholds): ...``"""

    def __init__(self, cfg: RunConfig, workers: int) -> None:
        self.cfg = cfg
        self.workers = max(1, workers)
        self._procs: list[Any] = []
        self._inboxes: list[Any] = []
        self._outbox: Any = None
        self._held: dict[int, tuple[str, int] | None] = {}
        self._idle: list[int] = []
        self._starting = 0
        self._started = False
        self.worker: Worker | None = None
        """The in-process worker (one worker: everything runs in this process)."""
        self.env_builds = 0
        """Chunks that started on a task the worker did not hold (an env build each)."""

    def __enter__(self) -> LocalPool:
        return self

    def _start(self) -> None:
        """Start the workers (on the first non-empty run: a resumed, finished run starts none)."""
        if self._started:
            return
        self._started = True
        if self.workers <= 1:
            self.worker = Worker(self.cfg)
            return
        # spawn, not fork: a parent that has stepped an env holds thread pools (numba,
        # OpenMP) whose locks a forked child inherits mid-use and deadlocks on.
        ctx = get_context("spawn")
        self._outbox = ctx.Queue()
        data = self.cfg.to_dict()
        self._starting = self.workers
        for wid in range(self.workers):
            inbox = ctx.Queue()
            proc = ctx.Process(target=_pool_worker, args=(wid, data, inbox, self._outbox), daemon=True)
            proc.start()
            self._inboxes.append(inbox)
            self._procs.append(proc)

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for inbox in self._inboxes:
            inbox.put(None)
        for proc in self._procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.terminate()
                proc.join()
        self._procs.clear()
        self._inboxes.clear()
        if self.worker is not None:
            self.worker.close()
            self.worker = None

    def _next_message(self) -> tuple[str, int, Any]:
        while True:
            try:
                return self._outbox.get(timeout=5)
            except queue_module.Empty:
                dead = [p.exitcode for p in self._procs if not p.is_alive()]
                if dead:
                    raise RuntimeError(f"a worker process died (exit code {dead[0]})") from None

    def run(self, specs: list[EpisodeSpec], thresholds: dict[str, float | None]) -> Iterator[EpisodeResult]:
        """Run ``specs``, yielding each result as soon as it finishes (in any order)."""
        if not specs:
            return
        self._start()
        queue = WorkQueue(specs, self.workers)
        if self.worker is not None:
            worker = self.worker
            while (chunk := queue.next_chunk(worker.held_task)) is not None:
                self.env_builds += env_key(chunk[0]) != worker.held_task
                yield from worker.run_chunk(chunk, thresholds)
            return
        busy = 0
        while True:
            while self._idle and len(queue):
                wid = self._idle.pop()
                chunk = queue.next_chunk(self._held.get(wid))
                self.env_builds += env_key(chunk[0]) != self._held.get(wid)
                self._inboxes[wid].put((chunk, thresholds))
                busy += 1
            if not busy and not (len(queue) and self._starting):
                return
            kind, wid, payload = self._next_message()
            if kind == "ok":
                yield payload
            elif kind == "idle":
                if wid in self._held:
                    busy -= 1
                else:  # the first idle is the start-up, not a finished chunk
                    self._starting -= 1
                self._held[wid] = payload
                self._idle.append(wid)
            else:
                raise RuntimeError(f"a worker process failed: {payload}")
