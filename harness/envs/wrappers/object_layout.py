"""Object layout: the movable objects shifted on the table and turned about z, interpenetration rejected.

After the init state is set, every movable object (LIBERO's ``objects_dict``;
fixtures stay) is moved ``shift_m`` in a horizontal direction drawn per object
and turned ``yaw_deg`` (sign drawn) about its vertical axis. A layout is
rejected when, after ``mj_forward``, it has a contact deeper than
``PENETRATION_TOL`` that the unperturbed layout did not have (an object inside
another or inside a fixture); up to ``MAX_TRIES`` layouts are drawn, and if
all fail the objects keep their places and the record says so
(``placement_failed``). Objects resting on a moved object are not carried with
it. Added distractor objects would need a model rebuild and are not offered.

>>> ObjectLayoutPerturbation.LEVELS[2]
{'shift_m': 0.02, 'yaw_deg': 10.0}
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from mistvla.harness.envs.wrappers.base import PerturbationWrapper
from mistvla.harness.envs.wrappers.camera import quat_mul, rotation_quat

PENETRATION_TOL = 0.003
MAX_TRIES = 20


def deep_contacts(data: Any, model: Any, tol: float = PENETRATION_TOL) -> set[tuple[int, int]]:
    """Pairs of root bodies in contact deeper than ``tol`` metres."""
    out = set()
    for c in data.contact[: data.ncon]:
        if c.dist < -tol:
            a, b = (
                model.body_rootid[model.geom_bodyid[c.geom1]],
                model.body_rootid[model.geom_bodyid[c.geom2]],
            )
            out.add((int(min(a, b)), int(max(a, b))))
    return out


class ObjectLayoutPerturbation(PerturbationWrapper):
    """Jitter the positions and yaw of the movable objects, rejecting interpenetrating layouts."""

    name = "object_layout"
    LEVELS: ClassVar[dict[int, dict[str, Any]]] = {
        lvl: {"shift_m": round(0.01 * lvl, 3), "yaw_deg": 5.0 * lvl} for lvl in range(1, 6)
    }

    def sample(self, rng: np.random.Generator, env: Any) -> dict[str, Any]:
        rs = env.unwrapped_libero.env
        row = self.level_params()
        draws = []
        for _ in range(MAX_TRIES):
            layout = {}
            for name in rs.objects_dict:
                angle = float(rng.uniform(0.0, 2.0 * np.pi))
                layout[name] = {
                    "dxy": [float(row["shift_m"] * np.cos(angle)), float(row["shift_m"] * np.sin(angle))],
                    "dyaw_deg": float(rng.choice([-1.0, 1.0]) * row["yaw_deg"]),
                }
            draws.append(layout)
        return {"shift_m": row["shift_m"], "yaw_deg": row["yaw_deg"], "draws": draws}

    def _place(self, env: Any, layout: dict[str, Any], start: dict[str, np.ndarray]) -> None:
        rs = env.unwrapped_libero.env
        data = rs.sim.data._data
        for name, obj in rs.objects_dict.items():
            adr = rs.sim.model.get_joint_qpos_addr(obj.joints[0])[0]
            q = start[name].copy()
            if name in layout:
                q[0:2] += np.asarray(layout[name]["dxy"])
                q[3:7] = quat_mul(rotation_quat(np.array([0.0, 0.0, 1.0]), layout[name]["dyaw_deg"]), q[3:7])
            data.qpos[adr : adr + 7] = q
        rs.sim.forward()

    def apply(self, env: Any) -> None:
        rs = env.unwrapped_libero.env
        model, data = rs.sim.model._model, rs.sim.data._data
        start = {}
        for name, obj in rs.objects_dict.items():
            adr = rs.sim.model.get_joint_qpos_addr(obj.joints[0])[0]
            start[name] = data.qpos[adr : adr + 7].copy()
        rs.sim.forward()
        before = deep_contacts(data, model)
        draws = self.params.pop("draws")
        for attempt, layout in enumerate(draws, start=1):
            self._place(env, layout, start)
            if deep_contacts(data, model) <= before:
                self.params.update(layout=layout, attempts=attempt, placement_failed=False)
                return
        self._place(env, {}, start)
        self.params.update(layout={}, attempts=len(draws), placement_failed=True)
