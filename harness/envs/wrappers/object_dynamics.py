"""Object dynamics: mass (with inertia) and sliding friction of the movable objects scaled.

Each movable object gets its own drawn direction per episode: mass and inertia
of every body of the object are multiplied by ``mass_scale ** s_m`` and the
sliding friction of its geoms by ``friction_scale ** s_f``, with signs
``s_m, s_f`` in {-1, +1}, so an object becomes heavier or lighter, more or
less slippery. Fixtures, the table and the robot are unchanged.

>>> ObjectDynamics.LEVELS[4]
{'mass_scale': 3.0, 'friction_scale': 2.5}
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from mistvla.harness.envs.wrappers.base import PerturbationWrapper


class ObjectDynamics(PerturbationWrapper):
    """Scale mass and friction of each movable object."""

    name = "object_dynamics"
    LEVELS: ClassVar[dict[int, dict[str, Any]]] = {
        1: {"mass_scale": 1.25, "friction_scale": 1.25},
        2: {"mass_scale": 1.5, "friction_scale": 1.5},
        3: {"mass_scale": 2.0, "friction_scale": 2.0},
        4: {"mass_scale": 3.0, "friction_scale": 2.5},
        5: {"mass_scale": 4.0, "friction_scale": 3.0},
    }

    def sample(self, rng: np.random.Generator, env: Any) -> dict[str, Any]:
        row = self.level_params()
        factors = {}
        for name in env.unwrapped_libero.env.objects_dict:
            s_m, s_f = rng.choice([-1.0, 1.0], size=2)
            factors[name] = {
                "mass": float(row["mass_scale"] ** s_m),
                "friction": float(row["friction_scale"] ** s_f),
            }
        return {"factors": factors}

    def apply(self, env: Any) -> None:
        rs = env.unwrapped_libero.env
        model = rs.sim.model._model
        for name, obj in rs.objects_dict.items():
            f = self.params["factors"][name]
            root = rs.sim.model.body_name2id(obj.root_body)
            bodies = [b for b in range(model.nbody) if model.body_rootid[b] == model.body_rootid[root]]
            for b in bodies:
                self.set_field(model, "body_mass", b, model.body_mass[b] * f["mass"])
                self.set_field(model, "body_inertia", b, model.body_inertia[b] * f["mass"])
            for g in np.flatnonzero(np.isin(model.geom_bodyid, bodies)):
                self.set_field(model, "geom_friction", (int(g), 0), model.geom_friction[g, 0] * f["friction"])
        rs.sim.forward()
