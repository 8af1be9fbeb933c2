"""What a config means before anything runs: episodes, env builds, policy loads, and a time estimate.

``mistvla plan CONFIG`` prints :func:`describe`. Env builds are counted by
replaying the executor's dispatch (:class:`~mistvla.harness.run.dispatch.WorkQueue`,
equal episode lengths assumed); the time is the simulator's alone, from rates
measured on the 2-core development machine (``benchmarks/env_step_rate.py``,
``benchmarks/runner_throughput.py``): policy inference comes on top.

>>> from mistvla.harness.config.run import parse_config
>>> cfg = parse_config({"name": "t", "policy": {"name": "random"}, "env": {"max_steps": 100},
...                     "episodes": {"suite": "libero_spatial", "tasks": [0, 1, 2], "init_states": [0, 1]}})
>>> p = plan_summary(cfg, workers=2)
>>> p["episodes"], p["env_builds"], p["policy_loads"]
(6, 3, 2)
"""

from __future__ import annotations

import os
from typing import Any

from mistvla.harness.config.run import RunConfig
from mistvla.harness.run.calibration import needs_calibration
from mistvla.harness.run.dispatch import WorkQueue
from mistvla.harness.run.plan import EpisodeSpec, env_key, plan_episodes

ENV_BUILD_S = 8.0
"""Building one LIBERO env (measured ~8 s on an idle core)."""
STEPS_PER_S_STATE = 75.0
"""Env steps per second with rendering off (65-90 measured)."""
RENDER_S_PER_128PX_FRAME = 0.09
"""Seconds per rendered 128 x 128 camera frame (software EGL; two cameras: ~5 steps/s)."""
NO_REFLECTIONS_RENDER_SCALE = 0.58
"""Render time with ``env.reflections: false`` over with (two cameras: 5.2 -> 8.5 steps/s measured)."""


def count_env_builds(phases: list[list[EpisodeSpec]], workers: int) -> int:
    """Env builds when ``phases`` run one after the other on ``workers`` workers that keep their env."""
    held: list[tuple[str, int] | None] = [None] * workers
    busy_until = [0.0] * workers
    builds = 0
    for specs in phases:
        queue = WorkQueue(specs, workers)
        while len(queue):
            w = min(range(workers), key=lambda i: busy_until[i])
            chunk = queue.next_chunk(held[w])
            builds += env_key(chunk[0]) != held[w]
            held[w] = env_key(chunk[0])
            busy_until[w] += len(chunk)
    return builds


def plan_summary(cfg: RunConfig, workers: int | None = None) -> dict[str, Any]:
    """Counts and the estimate as a dict (what :func:`describe` prints)."""
    from mistvla.harness.envs.tasks import step_limit

    workers = max(1, workers or cfg.workers)
    calibration = plan_episodes(cfg, calibration=True) if needs_calibration(cfg) else []
    episodes = plan_episodes(cfg)
    from mistvla.policies.registry import policy_class

    env = cfg.env_for(policy_class(cfg.policy.name).planned_requirements(cfg.policy.params))
    limits = {suite: env.max_steps or step_limit(suite, env.protocol) for suite in cfg.episodes.suites}
    warmup, cameras, size = env.warmup_steps, env.cameras, env.image_size
    frame_s = RENDER_S_PER_128PX_FRAME * len(cameras) * (size / 128) ** 2
    frame_s *= 1.0 if env.reflections else NO_REFLECTIONS_RENDER_SCALE
    step_s = 1.0 / STEPS_PER_S_STATE + frame_s
    builds = count_env_builds([calibration, episodes], workers)
    n = len(calibration) + len(episodes)
    steps = sum(limits[spec.id.suite] for spec in calibration + episodes)
    serial_s = builds * ENV_BUILD_S + steps * step_s + n * (warmup / STEPS_PER_S_STATE + frame_s)
    parallel = workers if cfg.executor.kind == "ray" else min(workers, os.cpu_count() or 1)
    return {
        "calibration_episodes": len(calibration),
        "episodes": len(episodes),
        "env_builds": builds,
        "policy_loads": workers,
        "max_steps": max(limits.values()),
        "step_limits": limits,
        "cameras": list(cameras),
        "estimate_s": serial_s / parallel,
        "parallel": parallel,
    }


def describe(cfg: RunConfig, workers: int | None = None) -> str:
    """The plan in a few lines, for the terminal."""
    p = plan_summary(cfg, workers)
    hours = p["estimate_s"] / 3600
    cams = ", ".join(p["cameras"]) or "none (state only)"
    return "\n".join(
        [
            f"run {cfg.name!r} ({cfg.executor.kind} executor, {p['policy_loads']} worker(s)) -> {cfg.run_dir}",
            f"episodes: {p['episodes']} evaluated + {p['calibration_episodes']} calibration, "
            f"up to {_limits_text(p['step_limits'])} steps each",
            f"env builds: {p['env_builds']}   policy loads: {p['policy_loads']}   cameras: {cams}",
            f"estimate (simulator only, {p['parallel']} in parallel, rates measured on 2 CPU cores): "
            f"{p['estimate_s'] / 60:.1f} min ({hours:.2f} h); policy inference comes on top",
        ]
    )


def _limits_text(limits: dict[str, int]) -> str:
    """``220`` for one suite (or one limit), ``220 (libero_spatial) / 280 (libero_object)`` for several."""
    if len(set(limits.values())) == 1:
        return str(next(iter(limits.values())))
    return " / ".join(f"{n} ({suite})" for suite, n in limits.items())
