"""Policies that need no model: uniform random actions and replay of a recorded sequence.

>>> p = RandomPolicy(seed=0)
>>> p.reset("anything")
>>> a = p.select_action({})
>>> a.shape, a.dtype, bool(np.all(np.abs(a) <= 1))
((7,), dtype('float32'), True)
>>> r = ReplayPolicy([[0, 0, 0.5, 0, 0, 0, -1]])
>>> r.reset("x"); r.select_action({})[2]
np.float32(0.5)
>>> r.select_action({})
Traceback (most recent call last):
...
IndexError: replay sequence exhausted after 1 actions
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mistvla.policies.base import ACTION_DIM, Policy


class RandomPolicy(Policy):
    """Uniform actions in [-scale, scale] per dimension, from a seeded generator."""

    name = "random"

    @dataclass(frozen=True)
    class Config:
        seed: int = 0
        scale: float = 1.0
        """Actions are uniform in [-scale, scale]."""

        def __post_init__(self) -> None:
            if not 0 < self.scale <= 1:
                raise ValueError(f"scale must be in (0, 1], got {self.scale}")

    def __init__(self, seed: int = 0, scale: float = 1.0) -> None:
        super().__init__()
        self.Config(seed, scale)  # the values checked where the run config's are
        self.seed = seed
        self.scale = scale
        self._episode = 0
        self._rng = np.random.default_rng(seed)

    def reset(self, instruction: str, *, seed: int | None = None) -> None:
        super().reset(instruction, seed=seed)
        # A fresh stream per episode: from (policy seed, episode seed) when given,
        # else from (policy seed, running episode count).
        self._rng = np.random.default_rng([self.seed, self._episode if seed is None else seed])
        self._episode += 1

    def select_action(self, obs: dict[str, Any]) -> np.ndarray:
        return self._rng.uniform(-self.scale, self.scale, ACTION_DIM).astype(np.float32)


class ReplayPolicy(Policy):
    """Replays a recorded (T, 7) action sequence from the start of every episode."""

    name = "replay"

    @dataclass(frozen=True)
    class Config:
        actions: list[list[float]]
        """The (T, 7) action sequence."""

    def __init__(self, actions: Sequence[Sequence[float]] | np.ndarray) -> None:
        super().__init__()
        arr = np.asarray(actions, dtype=np.float32)
        if arr.ndim != 2 or arr.shape[1] != ACTION_DIM:
            raise ValueError(f"actions must have shape (T, {ACTION_DIM}), got {arr.shape}")
        if not np.all(np.isfinite(arr)):
            raise ValueError("actions contain NaN or inf")
        self.actions = arr
        self._t = 0

    def reset(self, instruction: str, *, seed: int | None = None) -> None:
        super().reset(instruction, seed=seed)
        self._t = 0

    def select_action(self, obs: dict[str, Any]) -> np.ndarray:
        if self._t >= len(self.actions):
            raise IndexError(f"replay sequence exhausted after {len(self.actions)} actions")
        action = self.actions[self._t].copy()
        self._t += 1
        return action
