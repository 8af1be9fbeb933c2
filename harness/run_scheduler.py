"""Plan, calibrate and execute a run; local worker processes; resumable through the results store.

Every episode depends only on its :class:`~mistvla.harness.episode_runner.EpisodeSpec`
(env reset seeded, policy and intervention reseeded per episode, soft resets
proven identical to hard ones), so results are identical whatever the worker
count or the order in which episodes finish.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from .episode_runner import EpisodeResult, EpisodeSpec, run_episode
from .interventions import make_intervention
from .results_store import ResultsStore
from .risk_sources import make_risk_source
from .run_config import RunConfig, parse_config
from .run_manifest import write_json_atomic
from .tasks import suite_tasks

THRESHOLDS_FILE = "thresholds.json"


class CalibrationError(RuntimeError):
    """Thresholds cannot be calibrated from the held-out episodes."""


def _tasks(cfg: RunConfig) -> list[int]:
    n = len(suite_tasks(cfg.episodes.suite))
    tasks = cfg.episodes.tasks if cfg.episodes.tasks is not None else list(range(n))
    bad = [t for t in tasks if not 0 <= t < n]
    if bad:
        raise ValueError(f"episodes.tasks {bad} out of range: {cfg.episodes.suite} has tasks 0..{n - 1}")
    return tasks


def plan_episodes(cfg: RunConfig, calibration: bool = False) -> list[EpisodeSpec]:
    """Every episode of the run (or of its calibration phase), in a fixed order."""
    labels = ["none"] if calibration else [i.display for i in cfg.interventions]
    init_states = cfg.calibration.init_states if calibration else cfg.episodes.init_states
    specs = []
    for task in _tasks(cfg):
        for label in labels:
            for init_state in init_states:
                for seed in cfg.episodes.seeds:
                    for repeat in range(cfg.episodes.repeats):
                        specs.append(
                            EpisodeSpec(
                                policy=cfg.policy.name,
                                intervention=label,
                                suite=cfg.episodes.suite,
                                task_index=task,
                                init_state=init_state,
                                seed=seed,
                                repeat=repeat,
                                episode_index=len(specs),
                                calibration=calibration,
                            )
                        )
    return specs


# ---------------------------------------------------------------- worker side
_WORKER: dict[str, Any] = {}


def _worker_setup(cfg_data: dict[str, Any], threads: int | None) -> None:
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    _WORKER.clear()
    _WORKER["cfg"] = parse_config(cfg_data)
    _WORKER["envs"] = {}


def _policy() -> Any:
    if "policy" not in _WORKER:
        from ..policies.registry import make_policy

        cfg: RunConfig = _WORKER["cfg"]
        _WORKER["policy"] = make_policy(cfg.policy.name, **cfg.policy.params)
    return _WORKER["policy"]


def _env(task_index: int) -> Any:
    envs = _WORKER["envs"]
    if task_index not in envs:
        from .libero_env import LiberoEnv

        cfg: RunConfig = _WORKER["cfg"]
        req = _policy().requirements
        e = cfg.env
        cameras = tuple(e.cameras if e.cameras is not None else req.cameras)
        if cfg.video and not cameras:
            cameras = ("agentview",)  # rendered only for the video
        kwargs: dict[str, Any] = dict(
            cameras=cameras,
            image_size=e.image_size or req.image_size,
            privileged=req.privileged or cfg.risk.source == "oracle",
            protocol=e.protocol,
            max_steps=e.max_steps,
            hard_reset=e.hard_reset,
            terminate_on_collision=e.terminate_on_collision,
            terminate_on_drop=e.terminate_on_drop,
        )
        if e.collision_force_threshold is not None:
            from .collision_ledger import CollisionConfig

            kwargs["collision"] = CollisionConfig(force_threshold=e.collision_force_threshold)
        for old in envs.values():  # one env alive per worker keeps memory flat
            old.close()
        envs.clear()
        envs[task_index] = LiberoEnv(cfg.episodes.suite, task_index, **kwargs)
    return envs[task_index]


def _run_one(spec: EpisodeSpec, thresholds: dict[str, float | None]) -> EpisodeResult:
    cfg: RunConfig = _WORKER["cfg"]
    icfg = next(i for i in cfg.interventions if i.display == spec.intervention)
    intervention = make_intervention(icfg, thresholds.get(spec.intervention))
    risk = make_risk_source(cfg.risk)
    env = _env(spec.task_index)
    camera = env.config.cameras[0] if cfg.video else None
    return run_episode(env, _policy(), intervention, risk, spec, video_camera=camera)


def partition_by_task(specs: list[EpisodeSpec], workers: int) -> list[list[EpisodeSpec]]:
    """Split ``specs`` into ``workers`` lists, keeping each task's episodes together where possible.

    Building a LIBERO env costs seconds, so a worker should build each task's
    env once: whole tasks go to the least-loaded worker (largest first); a task
    is split only when there are fewer tasks than workers.

    >>> specs = [EpisodeSpec("p", "none", "s", t, 0, 0) for t in (0, 0, 0, 1)]
    >>> [[s.task_index for s in part] for part in partition_by_task(specs, 2)]
    [[0, 0, 0], [1]]
    """
    by_task: dict[int, list[EpisodeSpec]] = {}
    for spec in specs:
        by_task.setdefault(spec.task_index, []).append(spec)
    groups = sorted(by_task.values(), key=len, reverse=True)
    while len(groups) < workers and any(len(g) > 1 for g in groups):
        big = groups.pop(0)
        groups += [big[: len(big) // 2], big[len(big) // 2 :]]
        groups.sort(key=len, reverse=True)
    parts: list[list[EpisodeSpec]] = [[] for _ in range(min(workers, len(groups)))]
    for group in groups:
        min(parts, key=len).extend(group)
    return parts


def _worker_main(
    cfg_data: dict[str, Any], specs: list[EpisodeSpec], thresholds: dict[str, Any], queue: Any
) -> None:
    try:
        _worker_setup(cfg_data, 1)
        for spec in specs:
            queue.put(("ok", _run_one(spec, thresholds)))
    except BaseException as err:  # reported to the parent, which stops the run
        queue.put(("error", f"{type(err).__name__}: {err}"))
    finally:
        queue.put(("done", None))


def execute(
    cfg: RunConfig, specs: list[EpisodeSpec], thresholds: dict[str, float | None], workers: int
) -> Iterator[EpisodeResult]:
    """Run ``specs``, yielding each result as soon as it finishes (in any order).

    With several workers, each worker process gets whole tasks
    (:func:`partition_by_task`) and streams its episodes back one by one, so
    the parent writes every finished episode immediately.
    """
    if not specs:
        return
    if workers <= 1:
        _worker_setup(cfg.to_dict(), None)
        try:
            for spec in specs:
                yield _run_one(spec, thresholds)
        finally:
            for env in _WORKER.get("envs", {}).values():
                env.close()
            _WORKER.clear()
        return
    # spawn, not fork: a parent that has stepped an env holds thread pools (numba,
    # OpenMP) whose locks a forked child inherits mid-use and deadlocks on.
    ctx = get_context("spawn")
    queue = ctx.Queue()
    procs = [
        ctx.Process(target=_worker_main, args=(cfg.to_dict(), part, thresholds, queue), daemon=True)
        for part in partition_by_task(specs, workers)
    ]
    for proc in procs:
        proc.start()
    try:
        running = len(procs)
        while running:
            kind, payload = queue.get()
            if kind == "ok":
                yield payload
            elif kind == "error":
                raise RuntimeError(f"a worker process failed: {payload}")
            else:
                running -= 1
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
            proc.join()


def write_video(store: ResultsStore, result: EpisodeResult, fps: int = 20) -> str:
    """Write the episode's frames as an mp4 (atomically) and return its path relative to the run."""
    import imageio.v2 as imageio

    key = (
        result.record.get("episode_key")
        or EpisodeSpec(
            **{
                k: result.record[k]
                for k in ("policy", "intervention", "suite", "task_index", "init_state", "seed", "repeat")
            }
        ).key
    )
    path = store.video_path(key)
    tmp = path.with_name(path.stem + ".tmp-" + str(os.getpid()) + ".mp4")
    with imageio.get_writer(tmp, fps=fps, macro_block_size=1) as writer:
        for frame in result.frames:
            writer.append_data(frame)
    os.replace(tmp, path)
    return str(path.relative_to(store.run_dir))


def _run_into(
    store: ResultsStore,
    cfg: RunConfig,
    specs: list[EpisodeSpec],
    thresholds: dict[str, Any],
    workers: int,
    desc: str,
    progress: bool,
) -> None:
    done = store.completed_keys()
    todo = [s for s in specs if s.key not in done]
    bar = tqdm(total=len(specs), initial=len(specs) - len(todo), desc=desc, unit="ep", disable=not progress)
    for result in execute(cfg, todo, thresholds, workers):
        if result.frames:
            result.record["video_path"] = write_video(store, result)
        store.write_episode(result.record, result.steps, result.hidden or None)
        bar.set_postfix_str(f"{result.record['intervention']} {result.record['termination_reason']}")
        bar.update(1)
    bar.close()


def calibrate(cfg: RunConfig, run_dir: Path, workers: int, progress: bool = True) -> dict[str, float | None]:
    """Thresholds per intervention label: given in the config, or calibrated on held-out episodes.

    Calibration runs the base policy on ``calibration.init_states`` (disjoint from
    the evaluated ones), takes each clean episode's (success, no collision) peak
    risk, and sets the threshold at ``calibration.quantile`` of those peaks, so
    the intervention would have triggered in about ``1 - quantile`` of clean
    held-out episodes. The result is written to ``thresholds.json``.
    """
    thresholds: dict[str, float | None] = {i.display: i.threshold for i in cfg.interventions}
    thresholds["none"] = None
    need = [i.display for i in cfg.interventions if i.name != "none" and i.threshold is None]
    if not need:
        return thresholds
    path = run_dir / THRESHOLDS_FILE
    if path.exists():
        saved = json.loads(path.read_text())
        return {**thresholds, **{k: saved["value"] for k in need}}
    specs = plan_episodes(cfg, calibration=True)
    with ResultsStore.open(run_dir / "calibration", {"run": identity(cfg), "phase": "calibration"}) as store:
        _run_into(store, cfg, specs, {"none": None}, workers, "calibration", progress)
        eps = store.episodes().to_pylist()
        steps = store.steps().select(["episode_key", "risk_score"]).to_pylist()
    peaks: dict[str, float] = {}
    for row in steps:
        if row["risk_score"] is not None:
            peaks[row["episode_key"]] = max(peaks.get(row["episode_key"], 0.0), row["risk_score"])
    clean = [peaks.get(e["episode_key"], 0.0) for e in eps if e["success"] and not e["collided"]]
    if not clean:
        raise CalibrationError(
            f"none of the {len(eps)} held-out base episodes (init states {cfg.calibration.init_states}) "
            "ended in success without collision, so no threshold can be calibrated; add held-out init "
            "states or give `threshold:` explicitly"
        )
    value = float(np.quantile(clean, cfg.calibration.quantile))
    record = {
        "value": value,
        "quantile": cfg.calibration.quantile,
        "statistic": "per-episode peak risk of clean held-out base episodes",
        "n_episodes": len(eps),
        "n_clean": len(clean),
        "init_states": cfg.calibration.init_states,
        "risk_source": cfg.risk.source,
        "interventions": need,
    }
    write_json_atomic(path, record)
    return {**thresholds, **{k: value for k in need}}


def identity(cfg: RunConfig) -> dict[str, Any]:
    """The config that decides results: everything but the worker count (results do not depend on it)."""
    data = cfg.to_dict()
    data.pop("workers")
    return data


def run(cfg: RunConfig, workers: int | None = None, progress: bool = True) -> Path:
    """Calibrate (if needed) and run every missing episode of ``cfg``; returns the run directory."""
    from ..policies.registry import policy_kwargs

    policy_kwargs(cfg.policy.name, cfg.policy.params)  # a bad parameter fails here, before any episode
    run_dir = cfg.run_dir
    workers = workers or cfg.workers
    workers = max(1, min(workers, os.cpu_count() or 1))
    with ResultsStore.open(run_dir, identity(cfg)) as store:
        thresholds = calibrate(cfg, run_dir, workers, progress)
        _run_into(store, cfg, plan_episodes(cfg), thresholds, workers, "episodes", progress)
    return run_dir
