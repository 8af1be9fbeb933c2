"""Action latency: every action reaches the robot ``delay_steps`` control steps late.

The env executes the action the policy chose ``k`` steps earlier; the first
``k`` steps of an episode execute the no-op (arm still, gripper open), as a
real robot would before the first command arrives. At 20 Hz control one step
is 50 ms.

>>> ActionLatency.LEVELS[3]
{'delay_steps': 3}
"""

from __future__ import annotations

from collections import deque
from typing import Any, ClassVar

import numpy as np

from mistvla.harness.envs.wrappers.base import PerturbationWrapper

NOOP = np.array([0, 0, 0, 0, 0, 0, -1.0])


class ActionLatency(PerturbationWrapper):
    """Delay actions by a fixed number of control steps."""

    name = "latency"
    LEVELS: ClassVar[dict[int, dict[str, Any]]] = {
        1: {"delay_steps": 1},
        2: {"delay_steps": 2},
        3: {"delay_steps": 3},
        4: {"delay_steps": 5},
        5: {"delay_steps": 8},
    }

    def sample(self, rng: np.random.Generator, env: Any) -> dict[str, Any]:
        k = self.level_params()["delay_steps"]
        self._queue: deque[np.ndarray] = deque([NOOP.copy() for _ in range(k)])
        return {"delay_steps": k}

    def step(self, action: Any) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        if not self.active:
            return self.env.step(action)
        self.env.unwrapped._check_action(action)  # a bad action fails now, not k steps later
        self._queue.append(np.asarray(action, dtype=np.float64).copy())
        return self.env.step(self._queue.popleft())
