"""The worker side of a run: one :class:`Worker` per process, holding its policy and the env of one task.

Both executors use it: the local pool (:mod:`~mistvla.harness.run.pool`: a
worker process, or the parent itself with one worker) and the Ray env actors
(:mod:`~mistvla.harness.run.ray_executor`). A worker builds the policy once,
keeps the env of the task it last ran (one env alive keeps memory flat, plus
the envs beside it for ``lockstep: N``) and runs chunks of one task's episodes
one at a time or in lock-step groups; every episode is assembled the same way
(:meth:`Worker.episode_parts`).

Every episode depends only on its :class:`~mistvla.harness.run.plan.EpisodeSpec`
(env reset seeded, policy and intervention reseeded per episode, soft resets
proven identical to hard ones), so results are identical whatever the worker
count or the order in which episodes finish.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mistvla.harness.config.run import RunConfig, parse_config
from mistvla.harness.interventions.base import Intervention, make_intervention
from mistvla.harness.risk.base import RiskSource, make_risk_source
from mistvla.harness.run.episode import EpisodeResult, run_episode
from mistvla.harness.run.lockstep import LockstepEpisode, run_lockstep
from mistvla.harness.run.plan import EpisodeSpec, env_key

TaskKey = tuple[str, int]


def perturbed_env(cfg: RunConfig, env: Any, spec: EpisodeSpec) -> Any:
    """``env`` wrapped in the episode's perturbation from the sweep (unchanged for a clean episode)."""
    if spec.id.is_clean or cfg.sweep is None:
        return env
    from mistvla.harness.envs.wrappers.base import wrap

    entry = cfg.sweep.spec(spec.id.perturbation)
    return wrap(env, entry.name, int(spec.id.perturbation_level), seed=cfg.sweep.seed, params=entry.params)


def _restore(env: Any) -> None:
    restore = getattr(env, "restore", None)
    if restore is not None:  # the task's env is reused: put its scene back
        restore()


class Worker:
    """One process's run state: ``Worker(cfg).run_chunk(specs, thresholds)``; ``close()`` closes its envs.

    ``policy`` stands in for the run's policy when given (a Ray env actor's
    handle on the policy server); otherwise it is built on first use.
    """

    def __init__(self, cfg: RunConfig, threads: int | None = None, policy: Any = None) -> None:
        if threads is not None:
            import torch

            torch.set_num_threads(threads)
        self.cfg = cfg
        self._policy = policy
        self.envs: dict[TaskKey, Any] = {}
        self._extra: tuple[TaskKey | None, list[Any]] = (None, [])

    @classmethod
    def from_data(cls, cfg_data: dict[str, Any], threads: int | None = None, policy: Any = None) -> Worker:
        """A worker from the run config as plain data (what crosses a process boundary)."""
        return cls(parse_config(cfg_data), threads, policy)

    @property
    def policy(self) -> Any:
        if self._policy is None:
            from mistvla.policies.registry import make_policy

            self._policy = make_policy(self.cfg.policy.name, **self.cfg.policy.params)
        return self._policy

    @property
    def held_task(self) -> TaskKey | None:
        """The (suite, task) whose env this worker holds (None: none built yet)."""
        return next(iter(self.envs), None)

    def env(self, key: TaskKey) -> Any:
        """The env of ``key`` = (suite, task index), built on first use (closing the previous one)."""
        if key not in self.envs:
            from mistvla.harness.envs.libero import LiberoEnv

            config = self.cfg.env_for(self.policy.requirements)
            self.close_envs()
            suite, task_index = key
            self.envs[key] = LiberoEnv(suite, task_index, config=config)
        return self.envs[key]

    def episode_parts(self, env: Any, spec: EpisodeSpec, thresholds: dict[str, float | None]
                      ) -> tuple[Any, Intervention, RiskSource]:  # fmt: skip
        """What one episode runs with: the (perturbed) env, a fresh intervention and risk source."""
        label = spec.id.intervention
        icfg = next(i for i in self.cfg.interventions if i.display == label)
        intervention = make_intervention(icfg, thresholds.get(label))
        return perturbed_env(self.cfg, env, spec), intervention, make_risk_source(self.cfg.risk)

    def _camera(self, env: Any) -> str | None:
        return env.config.cameras[0] if self.cfg.video else None

    def run_one(self, spec: EpisodeSpec, thresholds: dict[str, float | None]) -> EpisodeResult:
        base = self.env(env_key(spec))
        env, intervention, risk = self.episode_parts(base, spec, thresholds)
        try:
            return run_episode(env, self.policy, intervention, risk, spec, video_camera=self._camera(base))
        finally:
            _restore(env)

    def _group_envs(self, task: TaskKey, n: int) -> list[Any]:
        first = self.env(task)  # may close the previous task's envs
        held, extra = self._extra
        if held != task:
            self.close_extra_envs()
            extra = []
        while len(extra) < n - 1:
            from mistvla.harness.envs.libero import LiberoEnv

            extra.append(LiberoEnv(first.suite, task[1], config=first.config))
        self._extra = (task, extra)
        return [first, *extra[: n - 1]]

    def run_group(self, specs: list[EpisodeSpec], thresholds: dict[str, float | None]) -> list[EpisodeResult]:
        """``specs`` (one task) side by side, one batched policy; results in ``specs``' order."""
        envs = self._group_envs(env_key(specs[0]), len(specs))
        episodes = [LockstepEpisode(*self.episode_parts(env, spec, thresholds), spec)
                    for env, spec in zip(envs, specs, strict=True)]  # fmt: skip
        try:
            return run_lockstep(self.policy, episodes, video_camera=self._camera(envs[0]))
        finally:
            for e in episodes:
                _restore(e.env)

    def run_chunk(
        self, chunk: list[EpisodeSpec], thresholds: dict[str, float | None]
    ) -> Iterator[EpisodeResult]:
        """Every episode of ``chunk`` (one task), ``cfg.lockstep`` at a time."""
        size = self.cfg.lockstep
        if size <= 1:
            for spec in chunk:
                yield self.run_one(spec, thresholds)
            return
        for start in range(0, len(chunk), size):
            yield from self.run_group(chunk[start : start + size], thresholds)

    def close_extra_envs(self) -> None:
        """Close the envs kept beside the worker's env (at a task change and when the worker stops)."""
        _, extra = self._extra
        self._extra = (None, [])
        for env in extra:
            env.close()

    def close_envs(self) -> None:
        self.close_extra_envs()
        for env in self.envs.values():
            env.close()
        self.envs.clear()

    def close(self) -> None:
        """Close every env this worker holds (the policy is left to the garbage collector)."""
        self.close_envs()


__all__ = ["Worker", "perturbed_env"]
