"""Several episodes in lock-step, one policy serving all of them with one batched call per step.

Each episode keeps its own env, seed, intervention, risk source and record
(:class:`~mistvla.harness.run.episode.EpisodeStepper`); only the policy's
forward pass is shared. The policy is forked per episode (shared weights, own
episode state); a policy with ``batched_inference`` gets every live episode's
observation in one :meth:`~mistvla.policies.base.Policy.select_actions_for`
call, with each active intervention's steering limited to its own batch row
(:func:`~mistvla.hooks.steering.steering_rows`). For deterministic policies the
records, steps and hidden states are those of :func:`~mistvla.harness.run.episode.run_episode`
run one at a time (``tests/run/test_lockstep.py``). An episode that ends early
drops out of the batch.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from mistvla.harness.interventions.base import Intervention
from mistvla.harness.risk.base import RiskSource
from mistvla.harness.run.episode import EpisodeResult, EpisodeStepper
from mistvla.harness.run.plan import EpisodeSpec

if TYPE_CHECKING:
    from mistvla.policies.base import Policy


@dataclass
class LockstepEpisode:
    """What one episode of a lock-step group runs in (the policy is the group's)."""

    env: Any
    intervention: Intervention
    risk_source: RiskSource
    spec: EpisodeSpec


@dataclass
class LockstepStats:
    policy_calls: int = 0
    """Calls to the policy (batched calls count once)."""
    items: int = 0
    """Actions returned (one per live episode per step)."""


def _actions(live: list[EpisodeStepper], policy: Policy) -> np.ndarray:
    from mistvla.hooks.steering import steering_rows

    with contextlib.ExitStack() as stack:
        for row, ep in enumerate(live):
            with steering_rows((row,)):  # a steering session made here steers this row only
                stack.enter_context(ep.intervention.around_policy(ep.policy))
        return type(policy).select_actions_for([ep.policy for ep in live], [ep.obs for ep in live])


def run_lockstep(
    policy: Policy,
    episodes: list[LockstepEpisode],
    video_camera: str | None = None,
    stats: LockstepStats | None = None,
) -> list[EpisodeResult]:
    """Run ``episodes`` side by side (each in its own env) and return their results in order."""
    forks = [policy] + [policy.fork() for _ in episodes[1:]]
    steppers = [
        EpisodeStepper(e.env, p, e.intervention, e.risk_source, e.spec, video_camera)
        for e, p in zip(episodes, forks, strict=True)
    ]
    stats = stats if stats is not None else LockstepStats()
    while True:
        live = [ep for ep in steppers if not ep.done]
        for ep in live:
            ep.before_policy()
        live = [ep for ep in live if not ep.done]
        if not live:
            break
        if policy.batched_inference:
            try:
                raws = _actions(live, policy)
            except Exception as err:  # the batch failed: every episode in it crashed
                for ep in live:
                    ep.crash(err)
                continue
            stats.policy_calls += 1
        else:  # one call per episode, each inside its own intervention's context
            raws = []
            for ep in live:
                try:
                    with ep.intervention.around_policy(ep.policy):
                        raws.append(ep.policy.select_action(ep.obs))
                except Exception as err:
                    ep.crash(err)
                    raws.append(None)
                stats.policy_calls += 1
        stats.items += len(live)
        for ep, raw in zip(live, raws, strict=True):
            if not ep.done:
                ep.after_policy(raw)
    return [ep.result() for ep in steppers]
