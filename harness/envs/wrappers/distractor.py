"""Distractors: 1-5 of LIBERO's objects put elsewhere on the table, off the manipulation path (clutter).

LIBERO-plus and LIBERO-PRO perturb what is already in the scene; this adds
objects, as a user of a cluttered-table benchmark expects. The pool of
``assets`` is added to the model once per env (as the obstacles are:
:mod:`~mistvla.harness.envs.scene_objects`); per episode the level sets how
many are put on the table (level = count), the seed draws which, where and their
yaw. A candidate centre (uniform over the table area around the task) is
accepted when its footprint keeps ``path_margin_m`` from both path segments
(:mod:`~mistvla.harness.envs.wrappers.scene_path`: so it is not an obstacle),
``clearance_m`` from the object to pick, the goal and the other distractors,
and adds no deep contact; otherwise it stays parked and the record says so.
Contacts with distractors are ordinary ``object`` collisions in the ledger.

>>> DistractorPerturbation.LEVELS[4]
{'n': 4}
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from mistvla.harness.envs.wrappers.object_layout import deep_contacts
from mistvla.harness.envs.wrappers.obstacle import ObstacleConfig, ObstaclePerturbation, touches_free_body
from mistvla.harness.envs.wrappers.scene_path import clear_of, distance_to_segment, task_path

MAX_TRIES = 30
DEFAULT_ASSETS = ("alphabet_soup", "tomato_sauce", "cream_cheese", "butter", "chocolate_pudding", "popcorn")


@dataclass(frozen=True)
class DistractorConfig(ObstacleConfig):
    """The obstacle's options (assets, clearance from the object and the goal) plus the path margin."""

    assets: tuple[str, ...] = DEFAULT_ASSETS
    """LIBERO object assets the distractors are drawn from (without repeats: at least 5)."""
    path_margin_m: float = 0.08
    """Gap kept between a distractor's footprint and the path segments."""
    min_assets: ClassVar[int] = 5

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.path_margin_m < 0:
            raise ValueError(f"path_margin_m must be >= 0, got {self.path_margin_m}")


class DistractorPerturbation(ObstaclePerturbation):
    """Put ``level`` extra objects on the table away from the path."""

    name = "distractor"
    role = "distractor"
    Config = DistractorConfig
    LEVELS: ClassVar[dict[int, dict[str, Any]]] = {lvl: {"n": lvl} for lvl in range(1, 6)}

    def sample(self, rng: np.random.Generator, env: Any) -> dict[str, Any]:
        n = self.level_params()["n"]
        picks = rng.permutation(len(self.extras))[:5]
        slots = [
            {"extra": self.extras[int(k)].name, "asset": self.extras[int(k)].asset,
             "u": rng.uniform(0.0, 1.0, (MAX_TRIES, 2)).round(4).tolist(), "yaw": float(rng.uniform(-np.pi, np.pi))}
            for k in picks
        ]  # fmt: skip
        return {"n": n, "slots": slots[:n]}

    def apply(self, env: Any) -> None:
        rs = env.unwrapped_libero.env
        model, data = rs.sim.model._model, rs.sim.data._data
        path = task_path(env)
        rs.sim.forward()
        before = deep_contacts(data, model)
        keep_out = path.keep_out()
        lo, hi = path.bounds
        n_placed = 0
        for slot in self.params["slots"]:
            name = slot.pop("extra")
            radius = env.scene.radius[name]
            slot["placed"], slot["attempts"] = False, 0
            for u in slot.pop("u"):
                slot["attempts"] += 1
                centre = lo + np.asarray(u) * (hi - lo)
                off_path = all(
                    distance_to_segment(centre, seg) >= radius + self.options.path_margin_m
                    for seg in path.segments.values()
                )
                if not (off_path and clear_of(centre, radius, keep_out, self.options.clearance_m)):
                    continue
                env.scene.place(data, name, [*centre, path.surface_z], slot["yaw"])
                rs.sim.forward()
                if deep_contacts(data, model) <= before and not touches_free_body(
                    data, model, env.scene.body_id[name]
                ):  # as for obstacles: one placed into a task object by < 3 mm is thrown in the warm-up
                    slot.update(placed=True, xy=[round(float(v), 4) for v in centre])
                    keep_out.append((centre, radius))
                    n_placed += 1
                    break
                env.scene.park(data, name)
                rs.sim.forward()
            slot["name"] = name
        self.params.update(path=path.record(), n_placed=n_placed)
