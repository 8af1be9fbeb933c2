"""Obstacles on the manipulation path: 1-3 of LIBERO's own objects put in the way, as in SafeLIBERO.

At reset the env's model carries a pool of extra objects (``assets``, one
instance each, added once per env: :mod:`~mistvla.harness.envs.scene_objects`);
this wrapper puts ``n`` of them upright on the surface the task objects rest on,
on or beside the straight path of the task (:mod:`~mistvla.harness.envs.wrappers.scene_path`):
slot 0 on *transport* (object to pick -> goal), slot 1 on *approach* (gripper
start -> object), slot 2 on transport again. Per slot the seed draws the asset,
the fractions ``t`` along the segment (0.2-0.8) to try, the side and the yaw; the level
sets how many slots are used and how far (``offset_m``) their centres are from
the path line. Level 5 puts three obstacles on the line: the carried object of
the scripted expert (which does not see them: they are not in the privileged
observation) sweeps through them.

Placement rule (keeps the scene solvable): a candidate centre is accepted when
its obstacle's footprint keeps ``clearance_m`` from the footprints of the object
to pick and of the goal (so grasping and placing stay possible), lies inside the
table top (5 cm from its edges) and near the task, and adds no contact deeper
than 3 mm with anything (no obstacle inside another object, fixture or
obstacle) and touches no other free body at all (an obstacle put even 1 mm into
a task object is thrown up by the contact and falls over in the warm-up). The ``MAX_TRIES`` drawn fractions are tried on the slot's segment, then on
the other one (a short transport leaves no room between object and goal); a slot
with no acceptable candidate stays parked off the table and the record says so
(``placed: false``). Obstacles are real free bodies: they collide and can be
pushed or knocked over.

>>> ObstaclePerturbation.LEVELS[5]
{'n': 3, 'offset_m': 0.0}
>>> ObstacleConfig(clearance_m=-0.01)
Traceback (most recent call last):
...
ValueError: clearance_m must be >= 0, got -0.01
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from mistvla.harness.envs.scene_objects import ExtraObject, check_assets
from mistvla.harness.envs.wrappers.base import PerturbationWrapper
from mistvla.harness.envs.wrappers.object_layout import deep_contacts
from mistvla.harness.envs.wrappers.scene_path import clear_of, inside, on_path, task_path

MAX_TRIES = 12
SLOT_SEGMENTS = ("transport", "approach", "transport")
DEFAULT_ASSETS = ("wine_bottle", "bbq_sauce", "red_coffee_mug", "porcelain_mug", "white_bottle")
"""Upright, 10-16 cm tall: taller than the height at which the scripted expert carries an object."""


def touches_free_body(data: Any, model: Any, root: int) -> bool:
    """True when the body tree rooted at ``root`` is in contact with another free-jointed body (a task
    object or obstacle; surfaces, fixtures and the robot have no free joint)."""
    for c in data.contact[: data.ncon]:
        if c.dist >= 0:
            continue
        a, b = (int(model.body_rootid[model.geom_bodyid[g]]) for g in (c.geom1, c.geom2))
        if root not in (a, b):
            continue
        other = b if a == root else a
        adr = model.body_jntadr[other]
        if other != root and adr >= 0 and model.jnt_type[adr] == 0:  # mjJNT_FREE
            return True
    return False


@dataclass(frozen=True)
class ObstacleConfig:
    assets: tuple[str, ...] = DEFAULT_ASSETS
    """LIBERO object assets the obstacles are drawn from (without repeats: at least 3)."""
    clearance_m: float = 0.03
    """Gap kept between an obstacle's footprint and those of the object to pick and the goal."""
    min_assets: ClassVar[int] = 3
    """Different assets needed (objects are drawn without repeats)."""

    def __post_init__(self) -> None:
        if self.clearance_m < 0:
            raise ValueError(f"clearance_m must be >= 0, got {self.clearance_m}")
        if len(set(self.assets)) < self.min_assets:
            raise ValueError(
                f"assets must name at least {self.min_assets} different objects, got {list(self.assets)}"
            )
        check_assets(self.assets, "assets")


class ObstaclePerturbation(PerturbationWrapper):
    """Put 1-3 obstacles on or near the path gripper start -> object -> goal."""

    name = "obstacle"
    role = "obstacle"
    Config = ObstacleConfig
    LEVELS: ClassVar[dict[int, dict[str, Any]]] = {
        1: {"n": 1, "offset_m": 0.16},
        2: {"n": 1, "offset_m": 0.12},
        3: {"n": 2, "offset_m": 0.08},
        4: {"n": 2, "offset_m": 0.04},
        5: {"n": 3, "offset_m": 0.0},
    }

    def __init__(self, env: gym.Env, level: int = 0, seed: int = 0, config: Any = None) -> None:
        super().__init__(env, level, seed, config)
        self.extras = tuple(
            ExtraObject(f"{self.role}_{k}", a, self.role) for k, a in enumerate(self.options.assets)
        )

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        if self.active:
            options = {**(options or {}), "scene_objects": self.extras}
        return super().reset(seed=seed, options=options)

    def sample(self, rng: np.random.Generator, env: Any) -> dict[str, Any]:
        row = self.level_params()
        picks = rng.permutation(len(self.extras))[: len(SLOT_SEGMENTS)]
        slots = []
        for k, segment in enumerate(SLOT_SEGMENTS):
            slots.append({
                "segment": segment,
                "extra": self.extras[int(picks[k])].name,
                "asset": self.extras[int(picks[k])].asset,
                "t": rng.uniform(0.2, 0.8, MAX_TRIES).round(4).tolist(),
                "side": float(rng.choice([-1.0, 1.0])),
                "yaw": float(rng.uniform(-np.pi, np.pi)),
            })  # fmt: skip
        return {"n": row["n"], "offset_m": row["offset_m"], "slots": slots[: row["n"]]}

    def apply(self, env: Any) -> None:
        rs = env.unwrapped_libero.env
        model, data = rs.sim.model._model, rs.sim.data._data
        path = task_path(env)
        rs.sim.forward()
        before = deep_contacts(data, model)
        keep_out = path.keep_out()
        placed = []
        for slot in self.params["slots"]:
            name = slot.pop("extra")
            radius = env.scene.radius[name]
            slot["placed"], slot["attempts"] = False, 0
            other = "approach" if slot["segment"] == "transport" else "transport"
            ts = slot.pop("t")
            for segment, t in [(slot["segment"], t) for t in ts] + [(other, t) for t in ts]:
                slot["attempts"] += 1
                centre = on_path(path.segments[segment], t, slot["side"], self.params["offset_m"])
                clear = clear_of(centre, radius, keep_out, self.options.clearance_m)
                if not (clear and inside(centre, path.bounds) and clear_of(centre, radius, placed, 0.01)):
                    continue
                env.scene.place(data, name, [*centre, path.surface_z], slot["yaw"])
                rs.sim.forward()
                if deep_contacts(data, model) <= before and not touches_free_body(
                    data, model, env.scene.body_id[name]
                ):
                    slot.update(placed=True, segment=segment, t=t, xy=[round(float(v), 4) for v in centre])
                    placed.append((centre, radius))
                    break
                env.scene.park(data, name)
                rs.sim.forward()
            slot["name"] = name
        self.params.update(path=path.record(), n_placed=len(placed))
