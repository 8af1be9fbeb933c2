"""Planning a run: every episode it means, in a fixed order, and how episodes go to workers.

With a ``sweep:``, the plan is the grid: every task x env condition (clean
first, then each perturbation x level) x intervention x init state x seed x
repeat; calibration always runs clean. A clean episode's identity, and so its
key, is the same with or without a sweep.

>>> specs = [EpisodeSpec(EpisodeId("p", "none", "s", t, 0, 0)) for t in (0, 0, 0, 1)]
>>> [[s.id.task_index for s in part] for part in partition_by_task(specs, 2)]
[[0, 0, 0], [1]]
"""

from __future__ import annotations

from dataclasses import dataclass

from mistvla.harness.config.run import RunConfig
from mistvla.harness.envs.tasks import suite_tasks
from mistvla.harness.errors import ConfigError
from mistvla.harness.results.identity import EpisodeId


@dataclass(frozen=True)
class EpisodeSpec:
    """One planned episode: its identity and its place in the run's order."""

    id: EpisodeId
    episode_index: int = 0

    @property
    def key(self) -> str:
        return self.id.key


def env_key(spec: EpisodeSpec) -> tuple[str, int]:
    """What a worker's env is built for: (suite, task index); episodes with the same key share an env.

    >>> env_key(EpisodeSpec(EpisodeId("p", "none", "libero_goal", 3, 0, 0)))
    ('libero_goal', 3)
    """
    return (spec.id.suite, spec.id.task_index)


def run_tasks(cfg: RunConfig, suite: str | None = None) -> list[int]:
    """The config's task indices in ``suite``, checked against it (None: every suite checked, the last one's returned)."""
    tasks: list[int] = []
    for name in [suite] if suite is not None else cfg.episodes.suites:
        n = len(suite_tasks(name))
        tasks = cfg.episodes.tasks if cfg.episodes.tasks is not None else list(range(n))
        bad = [t for t in tasks if not 0 <= t < n]
        if bad:
            raise ConfigError(f"episodes.tasks: {bad} out of range; {name} has tasks 0..{n - 1}")
    return tasks


def plan_episodes(cfg: RunConfig, calibration: bool = False) -> list[EpisodeSpec]:
    """Every episode of the run (or of its calibration phase), in a fixed order (suite by suite)."""
    labels = ["none"] if calibration else [i.display for i in cfg.interventions]
    init_states = cfg.calibration.init_states if calibration else cfg.episodes.init_states
    sweep = cfg.sweep
    conditions = sweep.conditions() if sweep is not None and not calibration else [("none", 0)]
    specs = []
    for suite in cfg.episodes.suites:
        for task in run_tasks(cfg, suite):
            for perturbation, level in conditions:
                crossed = perturbation == "none" or sweep is None or sweep.cross_interventions
                for label in labels if crossed else ["none"]:
                    for init_state in init_states:
                        for seed in cfg.episodes.seeds:
                            for repeat in range(cfg.episodes.repeats):
                                ident = EpisodeId(
                                    cfg.policy.name,
                                    label,
                                    suite,
                                    task,
                                    init_state,
                                    seed,
                                    repeat,
                                    perturbation,
                                    level,
                                )
                                specs.append(EpisodeSpec(ident, episode_index=len(specs)))
    return specs


def partition_by_task(specs: list[EpisodeSpec], workers: int) -> list[list[EpisodeSpec]]:
    """Split ``specs`` into ``workers`` lists, keeping each task's episodes together where possible.

    Building a LIBERO env costs seconds, so a worker should build each task's
    env once: whole tasks go to the least-loaded worker (largest first); a task
    is split only when there are fewer tasks than workers.
    """
    by_task: dict[tuple[str, int], list[EpisodeSpec]] = {}
    for spec in specs:
        by_task.setdefault(env_key(spec), []).append(spec)
    groups = sorted(by_task.values(), key=len, reverse=True)
    while len(groups) < workers and any(len(g) > 1 for g in groups):
        big = groups.pop(0)
        groups += [big[: len(big) // 2], big[len(big) // 2 :]]
        groups.sort(key=len, reverse=True)
    parts: list[list[EpisodeSpec]] = [[] for _ in range(min(workers, len(groups)))]
    for group in groups:
        min(parts, key=len).extend(group)
    return parts
