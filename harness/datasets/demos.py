"""Roll out the scripted expert and write its demonstrations as a LeRobot dataset.

DART-style: Gaussian noise (``action_noise``, std in action units) is added
to the *executed* arm action while the recorded label ``action`` is the
expert's clean action for the state it is in, so the learned policy sees
states off the expert's path and how to recover from them. Only successful
episodes are kept unless ``keep_failures``. The split is by LIBERO init
state: ``train_init_states`` and ``val_init_states`` (early stopping) are
recorded in the dataset's metadata (and, as episode ranges, in LeRobot's
``meta/info.json`` ``splits``: every training episode is collected before the
validation ones); keep both disjoint from every init state you evaluate or
calibrate on. ``convention`` (default ``lerobot``) sets how state and camera
frames are written (:mod:`~mistvla.harness.envs.conventions`).

Config (YAML, ``mistvla demos CONFIG``): see ``experiments/reference/demos_libero_spatial.yaml``.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from mistvla.harness.envs.conventions import (
    DEFAULT_CONVENTION,
    Convention,
    check_convention,
    convention_frame,
    convention_state,
    image_key,
)
from mistvla.harness.envs.tasks import suite_object_names
from mistvla.harness.envs.vectors import environment_vector
from mistvla.harness.errors import ConfigError
from mistvla.harness.typed import from_dict


@dataclass(frozen=True)
class DemoConfig:
    """What to collect and where to write it."""

    name: str
    suite: str = "libero_spatial"
    output_dir: str = "runs/datasets/{name}"
    tasks: list[int] | None = None
    """Task indices (None: every task of the suite)."""
    train_init_states: list[int] = field(default_factory=lambda: list(range(36)))
    val_init_states: list[int] = field(default_factory=lambda: [36, 37, 38, 39])
    seeds: list[int] = field(default_factory=lambda: [0])
    action_noise: float = 0.1
    quiet_phases: list[str] = field(default_factory=list)
    """Expert phases without ``action_noise`` (e.g. ``[descend, grasp]``: the stall the expert closes
    on stays visible; see ``PerturbationConfig.quiet_phases``)."""
    settle_grasp: bool = False
    """The expert lifts once its fingers have stopped closing, not after a fixed 12 steps
    (``ScriptedExpert(settle_grasp=True)``): an observable switch for a learner with history."""
    keep_failures: bool = False
    max_steps: int | None = None
    cameras: list[str] = field(default_factory=list)
    image_size: int = 128
    reflections: bool = True
    """The cameras' reflection pass (``LiberoEnvConfig.reflections``); ``false`` renders ~2x faster and
    gives other images, so the policy's evaluation config must say the same."""
    convention: Convention = DEFAULT_CONVENTION
    """``lerobot``: state, image keys and frames as LeRobot's LIBERO env feeds a policy;
    ``mistvla``: the env's canonicalised axis-angle, ``observation.images.<camera>``, upright frames."""
    fps: int = 20
    max_minutes: float | None = None
    """Stop starting episodes after this much wall time and finalize what was collected (CPU budget)."""
    max_episodes: int | None = None
    """Stop after this many episodes tried (the reproducible form of a ``max_minutes`` stop)."""
    shard_episodes: int | None = None
    """Resumable collection: this many episodes (in collection order) per shard, each a complete LeRobot
    dataset ``<output_dir>/shard_NNNN``; rerunning the same command skips finished shards and redoes an
    unfinished one from its first episode (:mod:`~mistvla.harness.datasets.demo_shards`)."""
    max_envs: int | None = None
    """Envs kept alive at once (None: one per task; ~1 GB each with cameras). Fewer envs, less memory:
    the least recently used is closed and rebuilt when its task comes round again (same episodes)."""
    order: Literal["init_state", "task"] = "init_state"
    """``init_state``: every task of init state k, then k+1 (one env per task alive: ~1 GB each);
    ``task``: task by task, one env at a time (low memory; a time stop may miss the last tasks)."""

    def __post_init__(self) -> None:
        overlap = set(self.train_init_states) & set(self.val_init_states)
        if overlap:
            raise ConfigError(f"val_init_states: {sorted(overlap)} are also train_init_states")
        check_convention(self.convention)
        if self.max_envs is not None and self.max_envs < 1:
            raise ConfigError(f"max_envs: must be >= 1, got {self.max_envs}")
        if self.shard_episodes is not None and self.shard_episodes < 1:
            raise ConfigError(f"shard_episodes: must be >= 1, got {self.shard_episodes}")
        if self.action_noise < 0:
            raise ConfigError(f"action_noise: must be >= 0, got {self.action_noise}")
        try:  # the expert's own check of the noise settings, as a config error
            self.noise()
        except ValueError as err:
            raise ConfigError(str(err)) from None

    def noise(self) -> Any:
        """The expert's :class:`PerturbationConfig` for these demonstrations (DART noise only)."""
        from mistvla.policies.scripted.perturbations import PerturbationConfig

        return PerturbationConfig(action_noise=self.action_noise, quiet_phases=tuple(self.quiet_phases))

    @property
    def root(self) -> Path:
        return Path(self.output_dir.format(name=self.name))


def load_demo_config(path: str | Path) -> DemoConfig:
    """A :class:`DemoConfig` from YAML, strictly checked."""
    import yaml

    return from_dict(DemoConfig, yaml.safe_load(Path(path).read_text()) or {}, "")


def episode_seed(seed: int, task: int, init_state: int) -> int:
    """The expert's per-episode seed (its noise stream): distinct for every (seed, task, init state)."""
    return seed * 100_000 + task * 1_000 + init_state


def episode_order(cfg: DemoConfig, tasks: list[int]) -> list[tuple[int, int, int]]:
    """(seed, init state, task) in collection order: every training episode before the validation
    ones (LeRobot's ``splits`` are episode ranges); within each, init-state major (a ``max_minutes``
    stop still covers every task) or, with ``order: task``, task by task.

    >>> cfg = DemoConfig(name="x", train_init_states=[0, 1], val_init_states=[9])
    >>> episode_order(cfg, [3, 4])
    [(0, 0, 3), (0, 0, 4), (0, 1, 3), (0, 1, 4), (0, 9, 3), (0, 9, 4)]
    """
    out = []
    for group in (cfg.train_init_states, cfg.val_init_states):
        pairs = [(k, t) for k in group for t in tasks]
        if cfg.order == "task":
            pairs = [(k, t) for t in tasks for k in group]
        out += [(seed, k, t) for seed in cfg.seeds for k, t in pairs]
    return out


def collect_episode(
    env: Any,
    expert: Any,
    init_state: int,
    seed: int,
    ep_seed: int,
    object_names: list[str],
    cameras: list[str],
    convention: str = DEFAULT_CONVENTION,
) -> tuple[dict[str, np.ndarray], bool, dict[str, Any]]:
    """One expert episode: per-frame arrays (``convention``'s keys), success, and the episode's perturbation."""
    obs, _ = env.reset(seed=seed, options={"init_state": init_state})
    expert.bind(env)
    expert.reset(env.instruction, seed=ep_seed)
    cols: dict[str, list[np.ndarray]] = {
        "observation.state": [],
        "observation.environment_state": [],
        "action": [],
        "executed_action": [],
    }
    keys = {cam: image_key(cam, convention) for cam in cameras}
    for key in keys.values():
        cols[key] = []
    info: dict[str, Any] = {"is_success": False}
    while True:
        executed = expert.select_action(obs)
        cols["observation.state"].append(convention_state(obs, convention))
        cols["observation.environment_state"].append(environment_vector(obs, object_names))
        cols["action"].append(expert.last_clean_action.copy())
        cols["executed_action"].append(executed.copy())
        for cam, key in keys.items():
            cols[key].append(convention_frame(obs["images"][cam], convention))
        obs, _, terminated, truncated, info = env.step(executed)
        if terminated or truncated:
            break
    frames = {k: np.stack(v) for k, v in cols.items()}
    return frames, bool(info["is_success"]), expert.episode_perturbation.to_dict()


class ExpertRollouts:
    """Scripted-expert episodes of ``cfg`` (``run``), keeping the envs its ``order`` wants alive."""

    def __init__(self, cfg: DemoConfig) -> None:
        self.cfg = cfg
        self.names = list(suite_object_names(cfg.suite))
        self.envs: dict[int, Any] = {}

    def run(self, seed: int, k: int, task: int) -> tuple[dict[str, np.ndarray], bool, dict[str, Any], str]:
        """One episode: frames, success, its record (``DemoWriter.add_episode``) and the instruction."""
        from mistvla.harness.envs.libero import LiberoEnv
        from mistvla.policies.scripted.expert import ScriptedExpert

        cfg = self.cfg
        if task not in self.envs and cfg.order == "task":
            self.close()
        if task in self.envs:
            self.envs[task] = self.envs.pop(task)  # most recently used last
        while task not in self.envs and cfg.max_envs is not None and len(self.envs) >= cfg.max_envs:
            self.envs.pop(next(iter(self.envs))).close()
        if task not in self.envs:
            self.envs[task] = LiberoEnv(
                cfg.suite, task, cameras=tuple(cfg.cameras), image_size=cfg.image_size,
                reflections=cfg.reflections, privileged=True, max_steps=cfg.max_steps,
            )  # fmt: skip
        env = self.envs[task]
        ep_seed = episode_seed(seed, task, k)
        expert = ScriptedExpert(perturbation=cfg.noise(), settle_grasp=cfg.settle_grasp)
        frames, success, perturbation = collect_episode(
            env, expert, k, seed, ep_seed, self.names, cfg.cameras, cfg.convention
        )
        record = {
            "suite": cfg.suite, "task": env.task_name, "task_in_suite": task, "init_state": k,
            "seed": seed, "episode_seed": ep_seed, "success": success,
            "split": "train" if k in cfg.train_init_states else "val",
            "perturbation": perturbation,
        }  # fmt: skip
        return frames, success, record, env.instruction

    def close(self) -> None:
        for env in self.envs.values():
            env.close()
        self.envs.clear()


def suite_task_indices(cfg: DemoConfig) -> list[int]:
    """``cfg.tasks`` or every task of the suite."""
    from mistvla.harness.envs.tasks import suite_tasks

    return cfg.tasks if cfg.tasks is not None else [t.index for t in suite_tasks(cfg.suite)]


def split_meta(cfg: DemoConfig, tried: int, stopped_early: bool) -> dict[str, Any]:
    """The mistvla metadata of a demonstration dataset (or shard) of ``cfg``."""
    return {
        "suite": cfg.suite,
        "split": {"by": "init_state", "train": cfg.train_init_states, "val": cfg.val_init_states},
        "label": "clean expert action (DART: noise only on executed_action)",
        "config": asdict(cfg),
        "episodes_tried": tried,
        "stopped_early": stopped_early,
    }


def collect_demos(cfg: DemoConfig, progress: bool = True, overwrite: bool = False) -> Path:
    """Collect ``cfg``'s episodes into one LeRobot dataset (unsharded); returns its root."""
    from tqdm import tqdm

    from mistvla.harness.datasets.lerobot_export import DemoWriter

    if cfg.shard_episodes is not None:
        raise ConfigError(
            "shard_episodes: a sharded collection runs through demo_shards.collect (mistvla demos)"
        )
    tasks = suite_task_indices(cfg)
    writer = DemoWriter(
        cfg.root, f"mistvla/{cfg.name}", list(suite_object_names(cfg.suite)), cfg.cameras, cfg.image_size,
        cfg.fps, overwrite, convention=cfg.convention,
    )  # fmt: skip
    init_states = [*cfg.train_init_states, *cfg.val_init_states]
    bar = tqdm(total=len(tasks) * len(init_states) * len(cfg.seeds), desc="demos", disable=not progress)
    kept = tried = 0
    t0 = time.perf_counter()
    rollouts = ExpertRollouts(cfg)
    stopped_early = False
    try:
        for seed, k, task in episode_order(cfg, tasks):
            out_of_time = cfg.max_minutes is not None and (time.perf_counter() - t0) / 60 > cfg.max_minutes
            if out_of_time or (cfg.max_episodes is not None and tried >= cfg.max_episodes):
                stopped_early = True
                break
            frames, success, record, instruction = rollouts.run(seed, k, task)
            tried += 1
            if success or cfg.keep_failures:
                writer.add_episode(frames, instruction, record)
                kept += 1
            bar.update(1)
            bar.set_postfix(kept=f"{kept}/{tried}")
    finally:
        rollouts.close()
    bar.close()
    return writer.finalize(split_meta(cfg, tried, stopped_early))
