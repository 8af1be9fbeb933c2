"""Extra LIBERO objects (obstacles, distractors) added to a task's MuJoCo model once, moved per episode.

A perturbation that puts objects into the scene asks the env for them with the
reset option ``scene_objects`` (a tuple of :class:`ExtraObject`). The first
reset that asks for a different set rebuilds the model (one hard reset):
LIBERO's own ``_load_model`` runs, then the extra objects (instances of LIBERO's
object assets, e.g. ``ketchup``, ``milk``, with a free joint) are appended to
the world body. Their joints come after every task joint, so LIBERO's saved
init states still fit once padded with the extras' qpos/qvel
(:meth:`SceneObjects.pad_state`). Every later reset with the same set is a soft
reset: the extras start *parked* (resting on the floor, far outside every
camera and the arm's reach) and the perturbation moves the ones it uses onto the
table through their free-joint qpos. A reset without extras (a clean episode)
rebuilds the original model, so a clean episode stays bit-identical to an env
that never had extras.

The extras are real bodies: they collide with the robot and the task objects and
can be pushed. They are not in ``objects_dict`` (LIBERO's success predicates and
the privileged observation do not see them); the collision ledger classifies
them by role (:func:`extra_roots`).

>>> ExtraObject("obstacle_0", "ketchup", "obstacle").body
'mistvla_obstacle_0_main'
>>> check_assets(["ketchup", "no_such_thing"], "assets")
Traceback (most recent call last):
...
ValueError: assets[1]: unknown LIBERO object asset 'no_such_thing' (known: ...)
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

ROLES = ("obstacle", "distractor")
PARK_Y0 = 6.0
"""Parked extras rest on the floor at y = 6 m + 0.6 m per slot (the table spans |y| < 0.5 m)."""


@dataclass(frozen=True)
class ExtraObject:
    """One extra object: instance ``name``, LIBERO asset (object category) and role."""

    name: str
    asset: str
    role: str

    @property
    def instance(self) -> str:
        """The robosuite object name (body names are ``<instance>_main`` etc.)."""
        return f"mistvla_{self.name}"

    @property
    def body(self) -> str:
        return f"{self.instance}_main"


def libero_object_assets() -> list[str]:
    """The names of LIBERO's registered object assets (the categories a BDDL file can use)."""
    from mistvla.harness.envs.setup import ensure_libero

    ensure_libero()
    with contextlib.redirect_stdout(io.StringIO()):
        from libero.libero.envs.objects import get_object_dict

    return sorted(get_object_dict())


def check_assets(assets: Sequence[str], field: str) -> None:
    """Raise ``ValueError`` naming ``field[i]`` for an asset LIBERO does not have (a config's
    ``__post_init__`` check: :func:`~mistvla.harness.typed.from_dict` prefixes the config's path)."""
    known = libero_object_assets()
    for i, asset in enumerate(assets):
        if asset not in known:
            shown = "..." if len(known) > 12 else ", ".join(known)
            raise ValueError(f"{field}[{i}]: unknown LIBERO object asset {asset!r} (known: {shown})")


def make_object(extra: ExtraObject) -> Any:
    """A fresh LIBERO object of ``extra.asset`` named ``extra.instance``, with a free joint."""
    from libero.libero.envs.objects import get_object_fn

    return get_object_fn(extra.asset)(name=extra.instance)


class SceneObjects:
    """The extras in one env's model: installing them (model rebuild), their addresses, parking, state padding."""

    def __init__(self) -> None:
        self.installed: tuple[ExtraObject, ...] = ()
        self._requested: tuple[ExtraObject, ...] = ()
        self.qpos_adr: dict[str, int] = {}
        self.dof_adr: dict[str, int] = {}
        self.body_id: dict[str, int] = {}
        self.bottom: dict[str, float] = {}
        self.radius: dict[str, float] = {}
        self.placed: dict[str, ExtraObject] = {}
        self._nq = self._nv = 0

    def needs_rebuild(self, requested: Sequence[ExtraObject]) -> bool:
        return tuple(requested) != self.installed

    def prepare(self, rs: Any, requested: Sequence[ExtraObject]) -> None:
        """Make the next hard reset of ``rs`` (robosuite env) build its model with ``requested`` appended."""
        self._requested = tuple(requested)
        vars(rs).pop("_load_model", None)  # our previous hook, if any
        if not self._requested:
            return
        original = rs._load_model
        extras = self._requested

        def load_model() -> None:
            original()
            objects = [make_object(e) for e in extras]
            for k, obj in enumerate(objects):
                obj.get_obj().set("pos", f"0 {PARK_Y0 + 0.6 * k:.3f} 0.3")
            rs.model.merge_objects(objects)

        rs._load_model = load_model

    def after_build(self, rs: Any) -> None:
        """Read the addresses of the extras in the new model (call after the hard reset)."""
        self.installed = self._requested
        model = rs.sim.model._model
        self.qpos_adr, self.dof_adr, self.body_id, self.bottom, self.radius = {}, {}, {}, {}, {}
        rs.mistvla_extras = {e.name: e for e in self.installed}
        if not self.installed:
            self._nq = self._nv = 0
            return
        for e in self.installed:
            body = model.body(e.body).id
            jnt = int(model.body_jntadr[body])
            self.body_id[e.name] = body
            self.qpos_adr[e.name] = int(model.jnt_qposadr[jnt])
            self.dof_adr[e.name] = int(model.jnt_dofadr[jnt])
        for name, (bottom, radius) in _extents(model, self.body_id, self.qpos_adr).items():
            self.bottom[name], self.radius[name] = bottom, radius
        first = min(self.qpos_adr.values())
        self._nq, self._nv = model.nq - first, model.nv - min(self.dof_adr.values())
        if first != model.nq - 7 * len(self.installed):
            raise RuntimeError("extra objects' joints are not the last joints of the model")

    def start_episode(self, state: np.ndarray, rs: Any) -> np.ndarray:
        """Forget the previous episode's placements; ``state`` (an init state of the original model)
        extended with the extras' parked poses and zero velocities."""
        self.placed = {}
        if not self.installed:
            return state
        model = rs.sim.model._model
        nq0, nv0 = model.nq - self._nq, model.nv - self._nv
        if state.shape[0] != 1 + nq0 + nv0:
            raise ValueError(f"init state has {state.shape[0]} values, expected {1 + nq0 + nv0}")
        qpos = np.concatenate([state[1 : 1 + nq0], self.parked_qpos()])
        qvel = np.concatenate([state[1 + nq0 :], np.zeros(self._nv)])
        return np.concatenate([state[:1], qpos, qvel])

    def parked_qpos(self) -> np.ndarray:
        """The extras' free-joint qpos when parked: upright on the floor, one slot each, far from the table."""
        out = []
        for k, e in enumerate(self.installed):
            out.append([0.0, PARK_Y0 + 0.6 * k, self.bottom[e.name] + 0.0005, 1.0, 0.0, 0.0, 0.0])
        return np.concatenate(out) if out else np.zeros(0)

    def park(self, data: Any, name: str) -> None:
        """Put extra ``name`` back in its parking slot, at rest."""
        k = [e.name for e in self.installed].index(name)
        pose = self.parked_qpos()[7 * k : 7 * k + 7]
        self.set_pose(data, name, pose[:3])
        self.placed.pop(name, None)

    def place(self, data: Any, name: str, pos: Sequence[float], yaw: float = 0.0) -> None:
        """Put extra ``name`` on the table: its lowest point at ``pos[2]`` (a surface height), centre at
        ``pos[:2]``, upright, turned ``yaw`` rad about z, at rest; remembered as placed for this episode."""
        z = float(pos[2]) + self.bottom[name] + 0.0005
        self.set_pose(data, name, np.array([float(pos[0]), float(pos[1]), z]), yaw)
        self.placed[name] = next(e for e in self.installed if e.name == name)

    def placed_obstacles(self) -> dict[str, int]:
        """Body ids of the obstacles placed in this episode."""
        return {n: self.body_id[n] for n, e in self.placed.items() if e.role == "obstacle"}

    def placed_record(self) -> list[dict[str, str]]:
        return [{"name": e.name, "asset": e.asset, "role": e.role} for e in self.placed.values()]

    def set_pose(self, data: Any, name: str, pos: np.ndarray, yaw: float = 0.0) -> None:
        """Put extra ``name`` at ``pos`` (its body origin), upright, turned ``yaw`` rad about z, at rest."""
        adr, dof = self.qpos_adr[name], self.dof_adr[name]
        data.qpos[adr : adr + 3] = pos
        data.qpos[adr + 3 : adr + 7] = [np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2)]
        data.qvel[dof : dof + 6] = 0.0


_BOX_SIGNS = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)])


def collision_corners(model: Any, data: Any, body: int) -> np.ndarray:
    """World-frame corners, (8 k, 3), of the bounding boxes of the k collision geoms of the body tree
    rooted at ``body`` (k = 0: an empty array), at ``data``'s current kinematics."""
    pts = []
    for g in range(model.ngeom):
        if model.body_rootid[model.geom_bodyid[g]] != body:
            continue
        if model.geom_contype[g] == 0 and model.geom_conaffinity[g] == 0:
            continue
        center, half = model.geom_aabb[g][:3], model.geom_aabb[g][3:]
        rot = data.geom_xmat[g].reshape(3, 3)
        pts.append(data.geom_xpos[g] + (center + _BOX_SIGNS * half) @ rot.T)
    return np.concatenate(pts) if pts else np.zeros((0, 3))


def _extents(model: Any, bodies: dict[str, int], qpos_adr: dict[str, int]) -> dict[str, tuple[float, float]]:
    """Per extra: (height of its origin above its lowest point, footprint radius), upright.

    From the corners of its collision geoms' bounding boxes, on a scratch copy of the state.
    """
    import mujoco

    data = mujoco.MjData(model)
    for adr in qpos_adr.values():
        data.qpos[adr : adr + 7] = [0, 0, 0, 1, 0, 0, 0]
    mujoco.mj_kinematics(model, data)
    out = {}
    for name, body in bodies.items():
        corners = collision_corners(model, data, body)
        if not len(corners):
            out[name] = (0.0, 0.05)
            continue
        allp = corners - data.xpos[body]
        half = (allp[:, :2].max(0) - allp[:, :2].min(0)) / 2  # radius: half the footprint's longer side
        out[name] = (float(-allp[:, 2].min()), float(half.max()))
    return out


def extra_roots(env: Any) -> dict[str, ExtraObject]:
    """The extras of a robosuite env, by root body name (empty for an env without extras)."""
    extras = getattr(env, "mistvla_extras", None) or {}
    return {e.body: e for e in extras.values()}
