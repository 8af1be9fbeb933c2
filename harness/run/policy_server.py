"""The policy as one actor serving every env actor: requests gathered for a short window, answered in one batch.

``executor: {kind: ray, policy_server: {...}}``. :class:`PolicyServer` is the
body of that actor (an async Ray actor; nothing here imports ``ray``). It holds
the policy once and one fork of it per open episode (shared weights, the
episode's own state: instruction, seed, noise, ``last_capture``), exactly the
forks the lock-step runner makes. An env actor's
:class:`~mistvla.harness.run.remote_policy.RemotePolicy` opens an episode
(:meth:`open`: fork, reset with its instruction and seed) and then asks for
actions (:meth:`act`). The first request of a batch waits up to ``wait_ms``
for others; ``max_batch`` observations answer at once. The batch is one
:meth:`~mistvla.policies.base.Policy.select_actions_for` call over the
episodes' forks, the lock-step runner's call, so per-item capture
(``CaptureRecord.row``) is the policy's own; each request gets its rows'
actions and captures back. A batch that raises is rerun one request at a time,
so only the failing episode crashes, as it would have alone.
"""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np

Reply = tuple[np.ndarray, list[Any]]
"""(actions (n, 7), each item's ``last_capture`` or None)."""


class PolicyServer:
    """``open(token, instruction, seed)``, ``act(tokens, observations)``, ``close(tokens)``; see the module."""

    def __init__(self, cfg_data: dict[str, Any], max_batch: int, wait_ms: float) -> None:
        from mistvla.harness.config.run import parse_config
        from mistvla.policies.registry import make_policy

        cfg = parse_config(cfg_data)
        self.policy = make_policy(cfg.policy.name, **cfg.policy.params)
        self.max_batch, self.wait_s = int(max_batch), float(wait_ms) / 1000.0
        self._episodes: dict[str, Any] = {}
        self._queue: list[tuple[list[str], list[dict[str, Any]], asyncio.Future[Reply]]] = []
        self._timer: asyncio.TimerHandle | None = None
        self.batches = 0
        self.items = 0

    async def describe(self) -> dict[str, Any]:
        """What an env actor's proxy needs: the policy's name, requirements and whether it batches."""
        p = self.policy
        return {"name": p.name, "requirements": p.requirements, "batched_inference": p.batched_inference}

    async def open(self, token: str, instruction: str, seed: int | None) -> None:
        """Start an episode: a fork of the policy, reset with the episode's instruction and seed."""
        fork = self.policy.fork()
        fork.reset(instruction, seed=seed)
        self._episodes[token] = fork

    async def close(self, tokens: list[str]) -> None:
        for token in tokens:
            self._episodes.pop(token, None)

    async def stats(self) -> dict[str, int]:
        """Batched calls made and observations answered (items / batches = mean batch size)."""
        return {"batches": self.batches, "items": self.items, "open_episodes": len(self._episodes)}

    async def act(self, tokens: list[str], observations: list[dict[str, Any]]) -> Reply:
        """Actions for these episodes' observations, answered with whatever else arrives in the window."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Reply] = loop.create_future()
        self._queue.append((list(tokens), list(observations), future))
        if sum(len(t) for t, _, _ in self._queue) >= self.max_batch:
            self._flush()
        elif self._timer is None:
            self._timer = loop.call_later(self.wait_s, self._flush)
        return await future

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        queue, self._queue = self._queue, []
        while queue:  # at most max_batch observations per call (a lock-step group is never split)
            batch, n = [], 0
            while queue and (not batch or n + len(queue[0][0]) <= self.max_batch):
                batch.append(queue.pop(0))
                n += len(batch[-1][0])
            self._answer(batch)

    def _answer(self, batch: list[tuple[list[str], list[dict[str, Any]], asyncio.Future[Reply]]]) -> None:
        try:
            replies = self._run([t for t, _, _ in batch], [o for _, o, _ in batch])
        except Exception:  # rerun alone, so that only the failing request's episodes crash
            for request in batch:
                try:
                    (reply,) = self._run([request[0]], [request[1]])
                except Exception as err:
                    request[2].set_exception(err)
                else:
                    request[2].set_result(reply)
            return
        for (_, _, future), reply in zip(batch, replies, strict=True):
            future.set_result(reply)

    def _run(self, tokens: list[list[str]], observations: list[list[dict[str, Any]]]) -> list[Reply]:
        flat = [t for ts in tokens for t in ts]
        unknown = [t for t in flat if t not in self._episodes]
        if unknown:
            raise LookupError(f"policy server: no open episode {unknown[0]!r} (the server was restarted?)")
        policies = [self._episodes[t] for t in flat]
        obs = [o for os_ in observations for o in os_]
        actions = np.asarray(type(self.policy).select_actions_for(policies, obs), dtype=np.float32)
        self.batches += 1
        self.items += len(flat)
        replies, start = [], 0
        for ts in tokens:
            rows = policies[start : start + len(ts)]
            replies.append(
                (actions[start : start + len(ts)], [getattr(p, "last_capture", None) for p in rows])
            )
            start += len(ts)
        return replies
