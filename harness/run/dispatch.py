"""Handing episodes to a pool of workers that keep their env: chunks of one task, task affinity first.

A worker builds a LIBERO env for each task it runs (seconds), so the queue is
made of chunks of one task's episodes, and an idle worker gets the next chunk of
the task whose env it holds; with none left, the task with the most episodes
left (so tails even out: a task is cut into about ``workers`` chunks, of at
least ``min_chunk`` episodes, as a chunk on a new worker costs an env build). The
results do not depend on the order (every episode is seeded by its spec).

>>> from mistvla.harness.results.identity import EpisodeId
>>> from mistvla.harness.run.plan import EpisodeSpec
>>> specs = [EpisodeSpec(EpisodeId("p", "none", "s", t, k, 0)) for t in (0, 1) for k in range(4)]
>>> queue = WorkQueue(specs, workers=2, min_chunk=1)
>>> [(task, [len(c) for c in chunks]) for task, chunks in queue.chunks.items()]
[(('s', 0), [2, 2]), (('s', 1), [2, 2])]
>>> [s.id.init_state for s in queue.next_chunk(held_task=("s", 1))]
[0, 1]
>>> [s.id.task_index for s in queue.next_chunk(held_task=None)]
[0, 0]
>>> [s.id.task_index for s in queue.next_chunk(held_task=("s", 1))], len(queue)
([1, 1], 1)
"""

from __future__ import annotations

import math
from collections import OrderedDict

from mistvla.harness.run.plan import EpisodeSpec, env_key

TaskKey = tuple[str, int]
"""(suite, task index): what a worker's env is built for (:func:`~mistvla.harness.run.plan.env_key`)."""


class WorkQueue:
    """The episodes still to hand out, as per-task chunks (a task: suite and index) in plan order."""

    def __init__(
        self, specs: list[EpisodeSpec], workers: int, chunk_size: int | None = None, min_chunk: int = 4
    ) -> None:
        by_task: OrderedDict[TaskKey, list[EpisodeSpec]] = OrderedDict()
        for spec in specs:
            by_task.setdefault(env_key(spec), []).append(spec)
        self.chunks: OrderedDict[TaskKey, list[list[EpisodeSpec]]] = OrderedDict()
        for task, task_specs in by_task.items():
            size = chunk_size or max(min_chunk, math.ceil(len(task_specs) / max(1, workers)))
            self.chunks[task] = [task_specs[i : i + size] for i in range(0, len(task_specs), size)]

    def __len__(self) -> int:
        return sum(len(c) for c in self.chunks.values())

    def next_chunk(self, held_task: TaskKey | None) -> list[EpisodeSpec] | None:
        """The next chunk for a worker holding ``held_task``'s env (None when nothing is left)."""
        if held_task in self.chunks:
            task = held_task
        elif self.chunks:
            task = max(self.chunks, key=lambda t: sum(len(c) for c in self.chunks[t]))
        else:
            return None
        chunk = self.chunks[task].pop(0)
        if not self.chunks[task]:
            del self.chunks[task]
        return chunk
