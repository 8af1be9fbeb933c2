"""The worker side of a run: one env per (suite, task), one policy per process (see ``pool.py`` for the processes).

Every episode depends only on its :class:`~mistvla.harness.run.plan.EpisodeSpec`
(env reset seeded, policy and intervention reseeded per episode, soft resets
proven identical to hard ones), so results are identical whatever the worker
count or the order in which episodes finish.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mistvla.harness.config.run import RunConfig, parse_config
from mistvla.harness.interventions.base import make_intervention
from mistvla.harness.risk.base import make_risk_source
from mistvla.harness.run.episode import EpisodeResult, run_episode
from mistvla.harness.run.plan import EpisodeSpec, env_key

_WORKER: dict[str, Any] = {}


def env_config(cfg: RunConfig, requirements: Any) -> Any:
    """The env's config: the YAML ``env:`` section over what the policy and the risk source consume."""
    from mistvla.harness.envs.libero import LiberoEnvConfig
    from mistvla.harness.risk.base import risk_source_class
    from mistvla.harness.typed import from_dict

    data = dict(cfg.env)
    cameras = data.get("cameras")
    cameras = list(requirements.cameras) if cameras is None else list(cameras)
    if cfg.video and not cameras:
        cameras = ["agentview"]  # rendered only for the video
    data["cameras"] = cameras
    if data.get("image_size") is None:
        data["image_size"] = requirements.image_size
    needs = requirements.privileged or risk_source_class(cfg.risk.source).needs_privileged
    data["privileged"] = bool(data.get("privileged", False) or needs)
    return from_dict(LiberoEnvConfig, data, "env")


def _setup(cfg_data: dict[str, Any], threads: int | None) -> None:
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    _WORKER.clear()
    _WORKER["cfg"] = parse_config(cfg_data)
    _WORKER["envs"] = {}


def _policy() -> Any:
    if "policy" not in _WORKER:
        from mistvla.policies.registry import make_policy

        cfg: RunConfig = _WORKER["cfg"]
        _WORKER["policy"] = make_policy(cfg.policy.name, **cfg.policy.params)
    return _WORKER["policy"]


def _env(key: tuple[str, int]) -> Any:
    """The worker's env of ``key`` = (suite, task index), built on first use (closing the previous one)."""
    envs = _WORKER["envs"]
    if key not in envs:
        from mistvla.harness.envs.libero import LiberoEnv

        cfg: RunConfig = _WORKER["cfg"]
        config = env_config(cfg, _policy().requirements)
        for old in envs.values():  # one env alive per worker keeps memory flat
            old.close()
        envs.clear()
        suite, task_index = key
        envs[key] = LiberoEnv(suite, task_index, config=config)
    return envs[key]


def _run_one(spec: EpisodeSpec, thresholds: dict[str, float | None]) -> EpisodeResult:
    cfg: RunConfig = _WORKER["cfg"]
    label = spec.id.intervention
    icfg = next(i for i in cfg.interventions if i.display == label)
    intervention = make_intervention(icfg, thresholds.get(label))
    risk = make_risk_source(cfg.risk)
    env = perturbed_env(cfg, _env(env_key(spec)), spec)
    camera = env.config.cameras[0] if cfg.video else None
    try:
        return run_episode(env, _policy(), intervention, risk, spec, video_camera=camera)
    finally:
        restore = getattr(env, "restore", None)
        if restore is not None:  # the task's env is reused: put its scene back
            restore()


def perturbed_env(cfg: RunConfig, env: Any, spec: EpisodeSpec) -> Any:
    """``env`` wrapped in the episode's perturbation from the sweep (unchanged for a clean episode)."""
    if spec.id.is_clean or cfg.sweep is None:
        return env
    from mistvla.harness.envs.wrappers.base import wrap

    entry = cfg.sweep.spec(spec.id.perturbation)
    return wrap(env, entry.name, int(spec.id.perturbation_level), seed=cfg.sweep.seed, params=entry.params)


def execute(
    cfg: RunConfig, specs: list[EpisodeSpec], thresholds: dict[str, float | None], workers: int
) -> Iterator[EpisodeResult]:
    """Run ``specs`` on a fresh :class:`~mistvla.harness.run.pool.LocalPool`, yielding results as they finish.

    The scheduler keeps one pool for the whole run instead (calibration included).
    """
    from mistvla.harness.run.pool import LocalPool

    with LocalPool(cfg, workers) as pool:
        yield from pool.run(specs, thresholds)
