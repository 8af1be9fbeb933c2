"""Resumable demonstration collection: the episodes in shards, each a complete LeRobot dataset.

With ``shard_episodes: S`` the collection order (:func:`~mistvla.harness.datasets.demos.episode_order`)
is cut into shards of S episodes; shard i is written to ``<output_dir>/shard_{i:04d}`` with
:class:`~mistvla.harness.datasets.lerobot_export.DemoWriter` and is finished once its
``meta/mistvla.json`` (written last) says ``shard.complete``. Rerunning the same ``mistvla demos``
command skips finished shards, deletes an unfinished one (killed mid-shard, or stopped by
``max_minutes`` / ``max_episodes``) and collects it again from its first episode: every episode's seed
is a function of (seed, task, init state), so the result is the same as an uninterrupted run, with
no episode lost or written twice. At most one shard's work is redone after a kill.

``<output_dir>/demos.json`` keeps the collection's config; a rerun with a different config (other
than its time/episode budget) is refused, and ``<output_dir>/.lock`` (the collecting process's pid)
stops two processes writing the same directory. Two processes collect in parallel with two configs
(two output dirs, e.g. tasks 0-4 and 5-9); :func:`dataset_roots` lists the finished shards of any
number of them for training.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from mistvla.harness.datasets.demos import (
    DemoConfig,
    ExpertRollouts,
    collect_demos,
    episode_order,
    split_meta,
    suite_task_indices,
)
from mistvla.harness.datasets.lerobot_export import META_FILE, read_meta
from mistvla.harness.envs.tasks import suite_object_names
from mistvla.harness.errors import ConfigError

CONFIG_FILE = "demos.json"
LOCK_FILE = ".lock"
BUDGET_FIELDS = ("max_minutes", "max_episodes", "max_envs")
"""Config fields a resumed collection may change (when this run stops, how many envs it keeps alive:
neither changes an episode)."""


def shard_path(root: str | Path, index: int) -> Path:
    """``root/shard_0007`` for shard 7.

    >>> shard_path("runs/datasets/x", 7).as_posix()
    'runs/datasets/x/shard_0007'
    """
    return Path(root) / f"shard_{index:04d}"


def shard_finished(path: str | Path) -> bool:
    """Whether the shard at ``path`` was written to its last planned episode."""
    return bool(read_meta(path).get("shard", {}).get("complete", False))


def dataset_roots(*roots: str | Path) -> list[Path]:
    """The LeRobot datasets under ``roots``: each finished shard holding an episode, in order (a root
    that is itself a dataset, i.e. unsharded, is returned as it is)."""
    out: list[Path] = []
    for root in map(Path, roots):
        if (root / "meta/info.json").exists():
            out.append(root)
            continue
        for path in sorted(root.glob("shard_[0-9][0-9][0-9][0-9]")):
            if shard_finished(path) and read_meta(path).get("episodes"):
                out.append(path)
    return out


def progress(root: str | Path) -> dict[str, Any]:
    """Finished shards and their episodes tried and kept under ``root``."""
    shards = [p for p in sorted(Path(root).glob("shard_[0-9][0-9][0-9][0-9]")) if shard_finished(p)]
    metas = [read_meta(p) for p in shards]
    tried = sum(m["episodes_tried"] for m in metas)
    return {"shards": len(shards), "tried": tried, "kept": sum(len(m["episodes"]) for m in metas)}


def _plan_key(cfg: DemoConfig) -> dict[str, Any]:
    return {k: v for k, v in json.loads(json.dumps(asdict(cfg))).items() if k not in BUDGET_FIELDS}


def _check_config(root: Path, cfg: DemoConfig) -> None:
    path = root / CONFIG_FILE
    if path.exists():
        old = json.loads(path.read_text())
        changed = sorted(k for k in set(old) | set(_plan_key(cfg)) if old.get(k) != _plan_key(cfg).get(k))
        if changed:
            raise ConfigError(
                f"{', '.join(changed)}: differ from the collection started in {root} (use a new name)"
            )
    else:
        path.write_text(json.dumps(_plan_key(cfg), indent=1))


def _take_lock(root: Path) -> Path:
    lock = root / LOCK_FILE
    if lock.exists():
        pid = int(lock.read_text().strip() or 0)
        try:
            os.kill(pid, 0)
        except (ProcessLookupError, PermissionError, ValueError):
            pass  # the collector that left it has gone
        else:
            if pid != os.getpid():
                raise ConfigError(f"output_dir: {root} is being collected by pid {pid}")
    lock.write_text(str(os.getpid()))
    return lock


def collect(cfg: DemoConfig, progress_bar: bool = True, overwrite: bool = False) -> Path:
    """``mistvla demos``: :func:`collect_sharded` with ``shard_episodes``, else one dataset."""
    if cfg.shard_episodes is None:
        return collect_demos(cfg, progress_bar, overwrite)
    return collect_sharded(cfg, progress_bar, overwrite)


def collect_sharded(cfg: DemoConfig, progress_bar: bool = True, overwrite: bool = False) -> Path:
    """Collect (or continue collecting) ``cfg``'s episodes shard by shard under ``cfg.root``."""
    from tqdm import tqdm

    from mistvla.harness.datasets.lerobot_export import DemoWriter

    assert cfg.shard_episodes is not None
    root = cfg.root
    if overwrite and root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True, exist_ok=True)
    _check_config(root, cfg)
    lock = _take_lock(root)
    order = episode_order(cfg, suite_task_indices(cfg))
    size = cfg.shard_episodes
    shards = [order[i : i + size] for i in range(0, len(order), size)]
    names = list(suite_object_names(cfg.suite))
    bar = tqdm(total=len(order), desc=f"demos {cfg.name}", disable=not progress_bar)
    rollouts = ExpertRollouts(cfg)
    tried, t0 = 0, time.perf_counter()

    def out_of_budget() -> bool:
        late = cfg.max_minutes is not None and (time.perf_counter() - t0) / 60 > cfg.max_minutes
        return late or (cfg.max_episodes is not None and tried >= cfg.max_episodes)

    try:
        for index, episodes in enumerate(shards):
            path = shard_path(root, index)
            if shard_finished(path):
                bar.update(len(episodes))
                continue
            if out_of_budget():
                break
            if path.exists():
                shutil.rmtree(path)  # unfinished: collected again from its first episode
            writer = DemoWriter(path, f"mistvla/{cfg.name}", names, cfg.cameras, cfg.image_size, cfg.fps,
                                convention=cfg.convention)  # fmt: skip
            done = 0
            for seed, k, task in episodes:
                if out_of_budget():
                    break
                frames, success, record, instruction = rollouts.run(seed, k, task)
                tried, done = tried + 1, done + 1
                if success or cfg.keep_failures:
                    writer.add_episode(frames, instruction, record)
                bar.update(1)
            meta = split_meta(cfg, done, done < len(episodes))
            meta["shard"] = {
                "index": index,
                "episodes": [list(e) for e in episodes],
                "complete": done == len(episodes),
            }
            _finalize(writer, meta)
    finally:
        rollouts.close()
        lock.unlink(missing_ok=True)
        bar.close()
    return root


def _finalize(writer: Any, meta: dict[str, Any]) -> None:
    """Finish a shard; one that kept no episode gets only its ``meta/mistvla.json`` (LeRobot refuses to
    finalize an empty dataset into a readable one)."""
    if writer.episodes:
        writer.finalize(meta)
        return
    writer.dataset.finalize()
    path = writer.root / META_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**meta, "episodes": []}, indent=1))
