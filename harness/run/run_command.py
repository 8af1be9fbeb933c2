"""Orchestrating a run: check, calibrate, execute every missing episode into the results store.

``run(cfg)`` is resumable: episodes already complete in the store are not run
again, and the thresholds of an interrupted calibration are not recomputed
once written.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from tqdm import tqdm

from mistvla.harness.config.run import RunConfig
from mistvla.harness.results.atomic import atomic_write
from mistvla.harness.results.store import ResultsStore
from mistvla.harness.run.calibration import saved_thresholds, write_thresholds
from mistvla.harness.run.checks import check_run
from mistvla.harness.run.episode import EpisodeResult
from mistvla.harness.run.executors import Executor, open_executor
from mistvla.harness.run.plan import EpisodeSpec, plan_episodes
from mistvla.harness.run.run_identity import identity
from mistvla.harness.run.sequential_run import run_sequential
from mistvla.harness.run.study import check_study


def write_video(store: ResultsStore, result: EpisodeResult, fps: int = 20) -> str:
    """Write the episode's frames as an mp4 (atomically) and return its path relative to the run."""
    import imageio.v2 as imageio

    from mistvla.harness.results.identity import EpisodeId

    path = store.video_path(EpisodeId.from_record(result.record).key)

    def write(tmp: Path) -> None:
        with imageio.get_writer(tmp, fps=fps, macro_block_size=1, format="FFMPEG") as writer:
            for frame in result.frames:
                writer.append_data(frame)

    atomic_write(path, write, suffix=".mp4")
    return str(path.relative_to(store.run_dir))


def say_damaged(store: ResultsStore) -> None:
    """One line on stderr when opening the store moved damaged episodes aside (they are rerun)."""
    if store.damaged:
        _, problem = store.damaged[0]
        more = f" (and {len(store.damaged) - 1} more)" if len(store.damaged) > 1 else ""
        print(
            f"mistvla: moved {len(store.damaged)} unreadable episode(s) aside to {store.run_dir / 'damaged'} "
            f"and will rerun them: {problem}{more}",
            file=sys.stderr,
        )


def _run_into(
    store: ResultsStore,
    cfg: RunConfig,
    specs: list[EpisodeSpec],
    thresholds: dict[str, Any],
    pool: Executor,
    desc: str,
    progress: bool,
) -> None:
    say_damaged(store)
    done = store.completed_keys()
    todo = [s for s in specs if s.key not in done]
    bar = tqdm(total=len(specs), initial=len(specs) - len(todo), desc=desc, unit="ep", disable=not progress)
    for result in pool.run(todo, thresholds):
        if result.frames:
            result.record["video_path"] = write_video(store, result)
        store.write_episode(result.record, result.steps, result.hidden or None)
        bar.set_postfix_str(f"{result.record['intervention']} {result.record['termination_reason']}")
        bar.update(1)
    bar.close()


def calibrate(
    cfg: RunConfig, run_dir: Path, pool: Executor, progress: bool = True
) -> dict[str, float | None]:
    """Thresholds per intervention label (see :mod:`~mistvla.harness.run.calibration`), on ``pool``."""
    saved = saved_thresholds(cfg, run_dir)
    if saved is not None:
        return saved
    specs = plan_episodes(cfg, calibration=True)
    with ResultsStore.open(run_dir / "calibration", {"run": identity(cfg), "phase": "calibration"}) as store:
        _run_into(store, cfg, specs, {"none": None}, pool, "calibration", progress)
        episodes = store.episodes().to_pylist()
    return write_thresholds(cfg, run_dir, episodes)


def run(cfg: RunConfig, workers: int | None = None, progress: bool = True) -> Path:
    """Check, calibrate (if needed) and run every missing episode of ``cfg``; returns the run directory.

    Everything that can be checked without running an episode is checked before
    the run directory is created or touched (:func:`~mistvla.harness.run.checks.check_run`,
    :func:`~mistvla.harness.run.study.check_study`). With ``stats.stopping`` the episodes run in rounds
    until the pre-registered rule stops (:mod:`~mistvla.harness.run.sequential_run`).
    """
    check_run(cfg)
    run_dir = cfg.run_dir
    workers = workers or cfg.workers
    if cfg.executor.kind == "local":
        workers = max(1, min(workers, os.cpu_count() or 1))
    prereg = check_study(cfg)  # with a stopping rule: the pre-registration it runs under
    with ResultsStore.open(run_dir, identity(cfg)) as store, open_executor(cfg, workers) as pool:
        thresholds = calibrate(cfg, run_dir, pool, progress)
        specs = plan_episodes(cfg)
        if prereg is None:
            _run_into(store, cfg, specs, thresholds, pool, "episodes", progress)
        else:
            run_sequential(
                store,
                prereg,
                specs,
                lambda todo: _run_into(store, cfg, todo, thresholds, pool, "round", progress),
                progress,
            )
    return run_dir
