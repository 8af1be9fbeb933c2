"""Actuation noise: zero-mean Gaussian noise on the executed arm command (the gripper command is kept).

The noise is added to the six end-effector dimensions of each action after the
policy chose it (std as a fraction of full scale), then clipped to [-1, 1];
it is drawn from the episode's generator, so it is reproducible.

>>> ActuationNoise.LEVELS[5]
{'std': 0.4}
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from mistvla.harness.envs.wrappers.base import PerturbationWrapper


class ActuationNoise(PerturbationWrapper):
    """Add Gaussian noise to the arm part of every action."""

    name = "actuation_noise"
    LEVELS: ClassVar[dict[int, dict[str, Any]]] = {
        1: {"std": 0.05},
        2: {"std": 0.1},
        3: {"std": 0.2},
        4: {"std": 0.3},
        5: {"std": 0.4},
    }

    def sample(self, rng: np.random.Generator, env: Any) -> dict[str, Any]:
        self._noise_rng = np.random.default_rng(rng.integers(2**63))
        return {"std": self.level_params()["std"]}

    def step(self, action: Any) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        if not self.active:
            return self.env.step(action)
        act = self.env.unwrapped._check_action(action).copy()
        act[:6] = np.clip(act[:6] + self._noise_rng.normal(0.0, self.params["std"], 6), -1.0, 1.0)
        return self.env.step(act)
