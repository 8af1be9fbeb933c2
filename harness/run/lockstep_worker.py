"""The worker side of ``lockstep: N``: groups of N episodes of one task, each in its own env, one policy.

Used by both executors: :func:`run_chunk` runs a chunk of one task's episodes
one at a time (``lockstep: 1``) or in lock-step groups, on the worker state of
:mod:`~mistvla.harness.run.workers` (the first env is the worker's env of that
task; the others are kept beside it until the worker changes task).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mistvla.harness.interventions.base import make_intervention
from mistvla.harness.risk.base import make_risk_source
from mistvla.harness.run import workers
from mistvla.harness.run.episode import EpisodeResult
from mistvla.harness.run.lockstep import LockstepEpisode, run_lockstep
from mistvla.harness.run.plan import EpisodeSpec, env_key


def _group_envs(task: tuple[str, int], n: int) -> list[Any]:
    first = workers._env(task)  # may close the worker's previous env
    held, extra = workers._WORKER.get("lockstep_extra", (None, []))
    if held != task:
        close_extra_envs()
        extra = []
    while len(extra) < n - 1:
        from mistvla.harness.envs.libero import LiberoEnv

        extra.append(LiberoEnv(first.suite, task[1], config=first.config))
    workers._WORKER["lockstep_extra"] = (task, extra)
    return [first, *extra[: n - 1]]


def close_extra_envs() -> None:
    """Close the envs kept beside the worker's env (at a task change and when the worker stops)."""
    _, extra = workers._WORKER.pop("lockstep_extra", (None, []))
    for env in extra:
        env.close()


def run_group(specs: list[EpisodeSpec], thresholds: dict[str, float | None]) -> list[EpisodeResult]:
    """``specs`` (one task) side by side; results in ``specs``' order."""
    cfg = workers._WORKER["cfg"]
    envs = _group_envs(env_key(specs[0]), len(specs))
    episodes = []
    for env, spec in zip(envs, specs, strict=True):
        label = spec.id.intervention
        icfg = next(i for i in cfg.interventions if i.display == label)
        episodes.append(
            LockstepEpisode(
                workers.perturbed_env(cfg, env, spec),
                make_intervention(icfg, thresholds.get(label)),
                make_risk_source(cfg.risk),
                spec,
            )
        )
    camera = envs[0].config.cameras[0] if cfg.video else None
    try:
        return run_lockstep(workers._policy(), episodes, video_camera=camera)
    finally:
        for e in episodes:
            restore = getattr(e.env, "restore", None)
            if restore is not None:  # the env is reused: put its scene back
                restore()


def run_chunk(chunk: list[EpisodeSpec], thresholds: dict[str, float | None]) -> Iterator[EpisodeResult]:
    """Every episode of ``chunk`` (one task), ``cfg.lockstep`` at a time."""
    size = workers._WORKER["cfg"].lockstep
    if size <= 1:
        for spec in chunk:
            yield workers._run_one(spec, thresholds)
        return
    for start in range(0, len(chunk), size):
        yield from run_group(chunk[start : start + size], thresholds)
