"""Lighting: intensity, direction, colour and shadows of the scene's lights (MuJoCo model light fields).

Per episode a brighter-or-darker sign, a direction turn axis and a colour are
drawn; the level sets how far: diffuse and specular intensity are multiplied
by ``brighten`` or divided by ``dim`` (brightening saturates the image
sooner, so its steps are smaller), each light's direction is turned by ``turn_deg``
about the drawn horizontal axis, its colour is mixed ``tint`` of the way
toward the drawn colour, and from level 3 on the lights cast shadows.

>>> LightingPerturbation.LEVELS[1]
{'dim': 1.25, 'brighten': 1.1, 'turn_deg': 5.0, 'tint': 0.1, 'shadows': False}
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from mistvla.harness.envs.wrappers.base import PerturbationWrapper
from mistvla.harness.envs.wrappers.camera import rotate, rotation_quat


class LightingPerturbation(PerturbationWrapper):
    """Scale, turn, tint the scene lights and switch their shadows on."""

    name = "lighting"
    visual = True
    LEVELS: ClassVar[dict[int, dict[str, Any]]] = {
        1: {"dim": 1.25, "brighten": 1.1, "turn_deg": 5.0, "tint": 0.1, "shadows": False},
        2: {"dim": 1.5, "brighten": 1.2, "turn_deg": 10.0, "tint": 0.2, "shadows": False},
        3: {"dim": 1.8, "brighten": 1.3, "turn_deg": 15.0, "tint": 0.3, "shadows": True},
        4: {"dim": 2.2, "brighten": 1.4, "turn_deg": 20.0, "tint": 0.45, "shadows": True},
        5: {"dim": 2.8, "brighten": 1.5, "turn_deg": 25.0, "tint": 0.6, "shadows": True},
    }

    def sample(self, rng: np.random.Generator, env: Any) -> dict[str, Any]:
        row = self.level_params()
        sign = float(rng.choice([-1.0, 1.0]))
        angle = float(rng.uniform(0.0, 2.0 * np.pi))
        colour = rng.uniform(0.0, 1.0, size=3)
        return {
            "intensity_factor": float(row["brighten"] if sign > 0 else 1.0 / row["dim"]),
            "turn_axis": [float(np.cos(angle)), float(np.sin(angle)), 0.0],
            "turn_deg": row["turn_deg"],
            "colour": colour.round(4).tolist(),
            "tint": row["tint"],
            "shadows": row["shadows"],
        }

    def apply(self, env: Any) -> None:  # colours above 1 are allowed: OpenGL clamps the lit pixel
        model = env.sim.model._model
        p = self.params
        turn = rotation_quat(np.asarray(p["turn_axis"]), p["turn_deg"])
        colour = np.asarray(p["colour"])
        for i in range(model.nlight):
            diffuse = (
                model.light_diffuse[i] * (1 - p["tint"]) + p["tint"] * colour * model.light_diffuse[i].max()
            )
            self.set_field(model, "light_diffuse", i, np.maximum(diffuse * p["intensity_factor"], 0.0))
            spec = model.light_specular[i] * p["intensity_factor"]
            self.set_field(model, "light_specular", i, np.maximum(spec, 0.0))
            direction = rotate(turn, model.light_dir[i])
            self.set_field(model, "light_dir", i, direction / np.linalg.norm(direction))
            if p["shadows"]:
                self.set_field(model, "light_castshadow", i, 1)
