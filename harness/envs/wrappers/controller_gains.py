"""Controller gains: the arm's operational-space stiffness ``kp`` scaled up or down (damping ratio kept).

robosuite's OSC controller is rebuilt at every reset; after the init state is
set its ``kp`` is multiplied by ``gain_scale ** s`` (sign ``s`` drawn per
episode: a stiffer or a softer arm) and ``kd`` recomputed for the same damping
ratio (``kd = 2 sqrt(kp) * ratio``). Nothing else changes.

>>> ControllerGains.LEVELS[1]
{'gain_scale': 1.25}
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from mistvla.harness.envs.wrappers.base import PerturbationWrapper


class ControllerGains(PerturbationWrapper):
    """Scale the arm controller's stiffness, keeping its damping ratio."""

    name = "controller_gains"
    LEVELS: ClassVar[dict[int, dict[str, Any]]] = {
        lvl: {"gain_scale": s} for lvl, s in zip(range(1, 6), (1.25, 1.5, 2.0, 2.5, 3.0), strict=True)
    }

    def sample(self, rng: np.random.Generator, env: Any) -> dict[str, Any]:
        sign = float(rng.choice([-1.0, 1.0]))
        return {"kp_factor": float(self.level_params()["gain_scale"] ** sign)}

    def apply(self, env: Any) -> None:
        controller = env.unwrapped_libero.env.robots[0].controller
        kp = np.asarray(controller.kp, dtype=np.float64)
        ratio = np.asarray(controller.kd, dtype=np.float64) / (2.0 * np.sqrt(kp))
        controller.kp = kp * self.params["kp_factor"]
        controller.kd = 2.0 * np.sqrt(controller.kp) * ratio
        self.params["kp"] = np.round(controller.kp, 4).tolist()
