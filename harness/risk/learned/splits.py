"""Train/val/calib/test splits by episode, never by step; optionally holding out whole tasks or init states.

Neighbouring steps of one episode are nearly identical hidden states, so a
step-level random split measures leakage, not prediction. Every split here
assigns whole episodes; ``by="task"`` puts whole tasks in ``test`` (as SAFE
holds out 30% of tasks) and ``by="init_state"`` whole init states, with the
remaining episodes split by episode into ``train``/``val``/``calib``.

>>> keys = np.array([f"e{i}" for i in range(20) for _ in range(3)])
>>> tasks = np.array([i % 4 for i in range(20) for _ in range(3)])
>>> s = make_split(keys, tasks, tasks, SplitConfig(by="task", test_fraction=0.25))
>>> check_disjoint(s, keys, tasks, by="task")
>>> sorted(set(s.tolist()))
['calib', 'test', 'train', 'val']
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mistvla.harness.errors import ConfigError

SPLITS = ("train", "val", "calib", "test")


@dataclass
class SplitConfig:
    by: str = "episode"
    """``episode``, ``task`` (held-out tasks in test), ``init_state`` (held-out init states in test) or
    ``policy`` (held-out policies, e.g. another checkpoint of the same hidden size, in test)."""
    test_fraction: float = 0.3
    val_fraction: float = 0.15
    calib_fraction: float = 0.15
    seed: int = 0

    def __post_init__(self) -> None:
        if self.by not in ("episode", "task", "init_state", "policy"):
            raise ConfigError(f"split.by: 'episode', 'task', 'init_state' or 'policy', got {self.by!r}")
        total = self.test_fraction + self.val_fraction + self.calib_fraction
        if (
            not all(0 < f < 1 for f in (self.test_fraction, self.val_fraction, self.calib_fraction))
            or total >= 1
        ):
            raise ConfigError(f"split: fractions must be in (0, 1) and sum below 1, got {total:.2f}")


def _take(units: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    n = max(1, round(fraction * len(units)))
    return rng.permutation(units)[: min(n, len(units) - 1)]


def make_split(
    episode: np.ndarray,
    task: np.ndarray,
    init_state: np.ndarray,
    config: SplitConfig,
    policy: np.ndarray | None = None,
) -> np.ndarray:
    """Per row: its split name. ``episode`` is a per-row episode id (all rows of an episode share it)."""
    rng = np.random.default_rng(config.seed)
    episode = np.asarray(episode)
    out = np.full(len(episode), "train", dtype=object)
    test = np.zeros(len(episode), dtype=bool)
    if config.by == "episode":
        test = np.isin(episode, _take(np.unique(episode), config.test_fraction, rng))
    else:
        if config.by == "policy" and policy is None:
            raise ConfigError("split.by: 'policy' needs the dataset's policy_id column (rebuild the dataset)")
        group = np.asarray({"task": task, "init_state": init_state, "policy": policy}[config.by])
        units = np.unique(group)
        if len(units) < 2:
            raise ConfigError(
                f"split.by: {config.by!r} needs at least 2 distinct values, the dataset has {len(units)}"
            )
        test = np.isin(group, _take(units, config.test_fraction, rng))
    out[test] = "test"
    rest = np.unique(episode[~test])
    rest_frac = 1.0 - config.test_fraction
    val = _take(rest, config.val_fraction / rest_frac, rng)
    calib = _take(np.setdiff1d(rest, val), config.calib_fraction / rest_frac, rng)
    out[np.isin(episode, val) & ~test] = "val"
    out[np.isin(episode, calib) & ~test] = "calib"
    return out


def check_disjoint(split: np.ndarray, episode: np.ndarray, task: np.ndarray, by: str) -> None:
    """Raise if an episode (and, for task splits, a task held out for test) is in two splits."""
    for name, group in (("episode", episode), ("task", task)):
        if name == "task" and by != "task":
            continue
        ids = np.asarray(group)
        if name == "task":  # a held-out task is only in test; other tasks never in test
            bad = set(ids[split == "test"].tolist()) & set(ids[split != "test"].tolist())
        else:
            pairs = {(g, s) for g, s in zip(ids.tolist(), split.tolist(), strict=True)}
            seen: dict[object, str] = {}
            bad = set()
            for g, s in pairs:
                if seen.setdefault(g, s) != s:
                    bad.add(g)
        if bad:
            raise AssertionError(
                f"split leak: {len(bad)} {name}(s) in more than one split, e.g. {sorted(bad)[:3]}"
            )
