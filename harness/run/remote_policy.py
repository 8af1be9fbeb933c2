"""The env actor's stand-in for a policy held by the policy server (:mod:`~mistvla.harness.run.policy_server`).

:class:`RemotePolicy` has the policy contract the runners use (``bind``,
``reset``, ``select_action``, ``fork``, ``select_actions_for``,
``batched_inference``, ``requirements``, ``last_capture``), so
:func:`~mistvla.harness.run.episode.run_episode` and the lock-step runner run
unchanged on it: ``reset`` opens the episode on the server (its own fork,
instruction and seed), each action is a request the server batches with the
other env actors', and the item's captured hidden states come back with it.
A lock-step group's forks ask in one request. Hooks armed in the env actor
(steering interventions, hidden-state risk sources) cannot reach the server's
model; :func:`~mistvla.harness.run.checks.check_run` refuses them. If the
server dies, the episode in flight stops and :meth:`raise_if_lost` fails the
env actor's task, so that nothing of it reaches the store (rerunning the
config resumes the run).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import numpy as np


class PolicyServerLost(RuntimeError):
    """The policy server actor died: the episodes it served cannot go on."""


class _Shared:
    """What a proxy and its forks share: the episodes they opened and whether the server was lost."""

    def __init__(self) -> None:
        self.tokens: list[str] = []
        self.lost: BaseException | None = None


def _get(shared: _Shared, ref: Any) -> Any:
    import ray

    try:
        return ray.get(ref)
    except ray.exceptions.RayActorError as err:
        shared.lost = err
        raise PolicyServerLost(f"policy server lost: {err}") from err


class RemotePolicy:
    """A policy held by the policy server; see the module."""

    def __init__(self, server: Any, info: dict[str, Any], shared: _Shared | None = None) -> None:
        self.server, self.info = server, info
        self.name: str = info["name"]
        self.requirements = info["requirements"]
        self.batched_inference: bool = True  # a lock-step group asks in one request, whatever the policy
        self.instruction: str | None = None
        self.last_capture: Any = None
        self._token: str | None = None
        self._shared = shared if shared is not None else _Shared()

    def bind(self, env: Any) -> None:
        """Nothing: a policy whose ``bind`` reads the env is refused with a policy server."""

    def reset(self, instruction: str, *, seed: int | None = None) -> None:
        token = uuid.uuid4().hex
        _get(self._shared, self.server.open.remote(token, instruction, seed))
        self._shared.tokens.append(token)
        self._token, self.instruction, self.last_capture = token, instruction, None

    def select_action(self, obs: dict[str, Any]) -> np.ndarray:
        return type(self).select_actions_for([self], [obs])[0]

    def select_actions(self, observations: Sequence[dict[str, Any]]) -> np.ndarray:
        return np.stack([self.select_action(o) for o in observations])

    def fork(self) -> RemotePolicy:
        """Another episode's stand-in on the same server (its own episode once reset)."""
        return RemotePolicy(self.server, self.info, self._shared)

    @classmethod
    def select_actions_for(
        cls, policies: Sequence[RemotePolicy], observations: Sequence[dict[str, Any]]
    ) -> np.ndarray:
        """One request for these episodes (each reset, so open on the server); sets each ``last_capture``."""
        if any(p._token is None for p in policies):
            raise RuntimeError("call reset(instruction) before select_action")
        lead = policies[0]
        ref = lead.server.act.remote([p._token for p in policies], list(observations))
        actions, captures = _get(lead._shared, ref)
        for policy, capture in zip(policies, captures, strict=True):
            policy.last_capture = capture
        return np.asarray(actions, dtype=np.float32)

    def close_episodes(self) -> None:
        """Drop every episode this proxy and its forks opened on the server (after a chunk of work)."""
        tokens, self._shared.tokens = self._shared.tokens, []
        if tokens and self._shared.lost is None:
            _get(self._shared, self.server.close.remote(tokens))

    def raise_if_lost(self) -> None:
        """Raise :class:`PolicyServerLost` if the server died during the last chunk of work."""
        if self._shared.lost is not None:
            raise PolicyServerLost(f"policy server lost: {self._shared.lost}")
