"""The manipulation path of a LIBERO task, and the geometry of putting objects on it (or off it).

The *path* is two straight segments on the surface the task objects rest on:
*approach* from the gripper's start (projected down) to the object to pick, and
*transport* from that object to the goal (the goal's object, or its region's
site). Both come from the BDDL goal's first predicate ``(On|In obj target)``;
other goals use the first and last object of interest.

>>> seg = np.array([[0.0, 0.0], [0.4, 0.0]])
>>> on_path(seg, t=0.5, side=1.0, offset=0.05).tolist()
[0.2, 0.05]
>>> round(distance_to_segment(np.array([0.2, 0.05]), seg), 3)
0.05
>>> clear_of(np.array([0.2, 0.0]), 0.03, [(np.array([0.0, 0.0]), 0.05)], clearance=0.04)
True
>>> clear_of(np.array([0.1, 0.0]), 0.03, [(np.array([0.0, 0.0]), 0.05)], clearance=0.04)
False
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mistvla.harness.envs.scene_objects import collision_corners


@dataclass(frozen=True)
class TaskPath:
    """Where the task happens: start, object and goal (xy, m), their footprints, the surface height."""

    start: np.ndarray
    obj: np.ndarray
    goal: np.ndarray
    obj_name: str
    goal_name: str
    obj_radius: float
    goal_radius: float
    surface_z: float
    bounds: np.ndarray
    """[[x_lo, y_lo], [x_hi, y_hi]]: where an inserted object's centre may go."""

    @property
    def segments(self) -> dict[str, np.ndarray]:
        return {"transport": np.stack([self.obj, self.goal]), "approach": np.stack([self.start, self.obj])}

    def keep_out(self) -> list[tuple[np.ndarray, float]]:
        """(centre, radius) discs an inserted object must keep its clearance from: the object and the goal."""
        return [(self.obj, self.obj_radius), (self.goal, self.goal_radius)]

    def record(self) -> dict[str, Any]:
        r = lambda v: [round(float(x), 4) for x in v]  # noqa: E731
        return {"start_xy": r(self.start), "object_xy": r(self.obj), "goal_xy": r(self.goal),
                "object": self.obj_name, "goal": self.goal_name}  # fmt: skip


def body_footprint(model: Any, data: Any, body: int) -> tuple[np.ndarray, float, float]:
    """(centre xy, radius, lowest z) of the collision geoms of the body tree ``body``.

    The footprint is the horizontal box around the geoms' bounding boxes; its radius is half its longer
    side (exact for round objects such as bowls, plates, bottles; a box-shaped object's corners reach
    up to 1.4 times further)."""
    allp = collision_corners(model, data, body)
    if not len(allp):
        return data.xpos[body][:2].copy(), 0.03, float(data.xpos[body][2])
    lo, hi = allp[:, :2].min(0), allp[:, :2].max(0)
    return (lo + hi) / 2, float(np.max(hi - lo) / 2), float(allp[:, 2].min())


def _goal_names(rs: Any) -> tuple[str, str]:
    goal = rs.parsed_problem.get("goal_state") or []
    for pred in goal:
        if len(pred) == 3 and str(pred[0]).lower() in ("on", "in"):
            return str(pred[1]), str(pred[2])
    names = list(rs.obj_of_interest)
    return names[0], names[-1]


def _xy_of(rs: Any, name: str) -> tuple[np.ndarray, float, float] | None:
    model, data = rs.sim.model._model, rs.sim.data._data
    objs = {**rs.objects_dict, **rs.fixtures_dict}
    if name in objs:
        return body_footprint(model, data, model.body(objs[name].root_body).id)
    site = rs.object_sites_dict.get(name)
    if site is not None:
        parent = getattr(site, "parent_name", None)
        if parent in objs and name.endswith("_contain_region"):
            return body_footprint(model, data, model.body(objs[parent].root_body).id)
        sid = model.site(name).id
        return (
            data.site_xpos[sid][:2].copy(),
            float(np.linalg.norm(model.site_size[sid][:2])),
            float(data.site_xpos[sid][2]),
        )
    return None


def task_path(env: Any) -> TaskPath:
    """The path of the base env ``env`` (a LiberoEnv) in its current state (call after the init state)."""
    rs = env.unwrapped_libero.env
    model, data = rs.sim.model._model, rs.sim.data._data
    obj_name, goal_name = _goal_names(rs)
    obj = _xy_of(rs, obj_name)
    goal = _xy_of(rs, goal_name)
    if obj is None or goal is None:
        raise ValueError(f"cannot locate the task's object {obj_name!r} or goal {goal_name!r}")
    eef = data.site_xpos[rs.robots[0].eef_site_id][:2].copy()
    centres = [obj[0], goal[0], eef]
    for o in rs.objects_dict.values():
        centres.append(data.xpos[model.body(o.root_body).id][:2])
    lo, hi = np.min(centres, axis=0) - 0.1, np.max(centres, axis=0) + 0.1
    table = _table_xy(model, data)
    if table is not None:  # inside the table top, 5 cm from its edges
        lo, hi = np.maximum(lo, table[0] + 0.05), np.minimum(hi, table[1] - 0.05)
    surface = _surface_z(model, data, obj[2])
    return TaskPath(eef, obj[0], goal[0], obj_name, goal_name, obj[1], goal[1], surface, np.stack([lo, hi]))


def _surface_z(model: Any, data: Any, fallback: float) -> float:
    """Height of the table top (table arenas) or the floor (floor arenas); else ``fallback``."""
    for name, top in (("table_collision", True), ("floor", False)):
        try:
            g = model.geom(name).id
        except KeyError:
            continue
        return float(data.geom_xpos[g][2] + (model.geom_size[g][2] if top else 0.0))
    return fallback


def _table_xy(model: Any, data: Any) -> np.ndarray | None:
    try:
        g = model.geom("table_collision").id
    except KeyError:
        return None
    half = model.geom_size[g][:2]
    c = data.geom_xpos[g][:2]
    return np.stack([c - half, c + half])


def on_path(segment: np.ndarray, t: float, side: float, offset: float) -> np.ndarray:
    """The point at fraction ``t`` along ``segment`` (2x2), moved ``offset`` m sideways (``side`` = +-1)."""
    a, b = segment
    d = b - a
    n = np.linalg.norm(d)
    normal = np.array([-d[1], d[0]]) / n if n > 1e-9 else np.array([0.0, 1.0])
    return a + t * d + side * offset * normal


def distance_to_segment(p: np.ndarray, segment: np.ndarray) -> float:
    """Horizontal distance (m) from ``p`` to the segment."""
    a, b = segment
    d = b - a
    t = 0.0 if not d.any() else float(np.clip(np.dot(p - a, d) / np.dot(d, d), 0.0, 1.0))
    return float(np.linalg.norm(p - (a + t * d)))


def clear_of(
    centre: np.ndarray, radius: float, discs: Sequence[tuple[np.ndarray, float]], clearance: float
) -> bool:
    """True when the disc (``centre``, ``radius``) keeps ``clearance`` m from the edge of every disc."""
    return all(float(np.linalg.norm(centre - c)) >= radius + r + clearance for c, r in discs)


def inside(centre: np.ndarray, bounds: np.ndarray) -> bool:
    return bool(np.all(centre >= bounds[0]) and np.all(centre <= bounds[1]))
