"""Classify every MuJoCo geom of a LIBERO scene by what it belongs to.

The collision ledger needs to know, for each contact, *what* touched *what*:
the robot's arm or gripper, the table, a fixture (cabinet, stove), one of the
task's objects of interest (the *target*), another movable object, or the
world (floor, walls, anything unknown). Substring guesses on geom names are
fragile (``"gripper"`` also matches a fixture called ``gripper_holder``), so
classes come from **ownership**: robosuite and LIBERO model objects name their
root bodies, and a geom belongs to the nearest ancestor body that is such a
root. Walking up from a gripper finger therefore meets the gripper root before
the robot root, and the mount's bodies meet the mount root before the robot
base they hang from.

Everything is built once per attach (once per MuJoCo model); looking up the
class of a contact's geoms is then one numpy index per step.

>>> import mujoco
>>> xml = '''<mujoco><worldbody><geom name="floor" type="plane" size="1 1 .1"/>
...   <body name="robot0_base"><geom size=".1"/>
...     <body name="gripper0_root"><geom size=".05"/>
...       <body name="gripper0_finger"><geom size=".02"/></body></body></body>
...   <body name="bowl_1_main"><freejoint/><geom size=".03"/></body>
... </worldbody></mujoco>'''
>>> model = mujoco.MjModel.from_xml_string(xml)
>>> roots = {"robot0_base": RootSpec(BodyClass.ARM, "robot0"),
...          "gripper0_root": RootSpec(BodyClass.GRIPPER, "gripper0"),
...          "bowl_1_main": RootSpec(BodyClass.TARGET, "bowl_1", movable=True)}
>>> gc = classify_geoms(model, roots)
>>> [CLASS_NAMES[c] for c in gc.geom_class]
['world', 'arm', 'gripper', 'gripper', 'target']
>>> gc.geom_owner
('world', 'robot0', 'gripper0', 'gripper0', 'bowl_1')
>>> gc.geom_movable.tolist()
[False, False, False, False, True]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import mujoco
import numpy as np


class BodyClass(IntEnum):
    """What a body (and its geoms) belongs to. Values index :data:`CLASS_NAMES`."""

    WORLD = 0
    """Floor, walls and any body owned by nothing known."""
    ARM = 1
    """The robot's links from its base up to (not including) the gripper."""
    GRIPPER = 2
    """The gripper: palm, fingers, finger pads."""
    MOUNT = 3
    """The robot's pedestal/mount (robosuite ``RobotModel.mount``)."""
    TABLE = 4
    """The arena's work surface (``main_table``, ``kitchen_table``, ...)."""
    FIXTURE = 5
    """Static scene furniture that is not a task object (cabinet, stove, ...)."""
    TARGET = 6
    """An object or fixture named in the task's objects of interest."""
    OBJECT = 7
    """Any other movable object (a distractor)."""
    OBSTACLE = 8
    """An obstacle a perturbation inserted on the manipulation path (:mod:`~mistvla.harness.envs.scene_objects`)."""


CLASS_NAMES: tuple[str, ...] = tuple(c.name.lower() for c in BodyClass)
"""Class names indexed by class id: ``CLASS_NAMES[BodyClass.ARM] == "arm"``."""

ROBOT_CLASSES: frozenset[BodyClass] = frozenset({BodyClass.ARM, BodyClass.GRIPPER, BodyClass.MOUNT})
"""Classes that are part of the robot."""


@dataclass(frozen=True)
class RootSpec:
    """The class, owner name and mobility given to a root body and everything under it."""

    body_class: BodyClass
    owner: str
    movable: bool = False


@dataclass(frozen=True)
class GeomClasses:
    """Per-geom (and per-body) classification of one MuJoCo model.

    Arrays are indexed by geom id (``geom_*``) or body id (``body_*``).
    """

    geom_class: np.ndarray
    """int8, class id of each geom."""
    geom_owner: tuple[str, ...]
    """Owner name of each geom: object/fixture name, ``robot0``, ``gripper0``, ``table``, ``world``."""
    geom_movable: np.ndarray
    """bool, True for geoms of free-moving objects (objects_dict), False for static ones."""
    geom_body: np.ndarray
    """int, body id of each geom (``model.geom_bodyid``)."""
    body_class: np.ndarray
    """int8, class id of each body."""
    body_owner: tuple[str, ...]
    body_names: tuple[str, ...]

    @property
    def is_robot_geom(self) -> np.ndarray:
        """bool per geom: True when the geom belongs to the arm, gripper or mount."""
        return np.isin(self.geom_class, [int(c) for c in ROBOT_CLASSES])

    def class_counts(self) -> dict[str, int]:
        """Number of geoms per class name (all geoms, visual ones included)."""
        counts = np.bincount(self.geom_class.astype(np.int64), minlength=len(CLASS_NAMES))
        return {name: int(counts[i]) for i, name in enumerate(CLASS_NAMES)}


def classify_geoms(model: mujoco.MjModel, roots: Mapping[str, RootSpec]) -> GeomClasses:
    """Classify every geom of ``model`` by its nearest ancestor body listed in ``roots``.

    ``roots`` maps body names to :class:`RootSpec`. Bodies with no listed
    ancestor are ``WORLD``; their owner is their top-level body's name (or
    ``"world"`` for the world body itself). Root names absent from the model are
    ignored (robosuite objects may declare bodies a scene variant lacks).
    """
    nbody = model.nbody
    names = tuple(mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_BODY, i) or f"body{i}" for i in range(nbody))
    index = {name: i for i, name in enumerate(names)}
    root_at: dict[int, RootSpec] = {index[n]: spec for n, spec in roots.items() if n in index}
    parent = np.asarray(model.body_parentid)

    body_class = np.zeros(nbody, dtype=np.int8)
    body_movable = np.zeros(nbody, dtype=bool)
    owners: list[str] = ["world"] * nbody
    # Parents precede children in MuJoCo's body order, so one forward pass sees
    # each parent's final answer before its children.
    for b in range(1, nbody):
        spec = root_at.get(b)
        if spec is not None:
            body_class[b], body_movable[b], owners[b] = int(spec.body_class), spec.movable, spec.owner
        elif parent[b] == 0:
            owners[b] = names[b]  # unowned top-level body: world class, named after itself
        else:
            p = parent[b]
            body_class[b], body_movable[b], owners[b] = body_class[p], body_movable[p], owners[p]

    geom_body = np.asarray(model.geom_bodyid).astype(np.int64)
    return GeomClasses(
        geom_class=body_class[geom_body].copy(),
        geom_owner=tuple(owners[b] for b in geom_body),
        geom_movable=body_movable[geom_body].copy(),
        geom_body=geom_body,
        body_class=body_class,
        body_owner=tuple(owners),
        body_names=names,
    )


def _names_of(items: Any) -> list[Any]:
    """robosuite keeps one gripper per arm either bare or in a dict keyed by arm."""
    if items is None:
        return []
    if isinstance(items, Mapping):
        return list(items.values())
    return [items]


def table_body_names(env: Any) -> list[str]:
    """Names of the arena's work-surface bodies.

    LIBERO arenas expose their table element as ``table_body`` (table and
    kitchen arenas, body ``table``), ``coffee_table_body``,
    ``living_room_table_body`` and so on; the ``*_table`` fixture categories in
    BDDL files (``main_table``, ``kitchen_table``) are skipped by LIBERO's
    loaders and *are* these arena bodies. The env's ``workspace_name`` is added
    as a candidate too (:func:`classify_geoms` ignores names the model lacks).
    The floor arena has no table.
    """
    names: list[str] = []
    arena = getattr(getattr(env, "model", None), "mujoco_arena", None)
    if arena is not None:
        for attr, value in vars(arena).items():
            if attr.endswith("table_body") and value is not None and hasattr(value, "get"):
                name = value.get("name")
                if name:
                    names.append(name)
    workspace = getattr(env, "workspace_name", None)
    if workspace:
        names.append(workspace)
    return list(dict.fromkeys(names))


def target_names(env: Any) -> set[str]:
    """Object/fixture names of the task's objects of interest.

    ``obj_of_interest`` lists object and fixture names, and sometimes regions
    (``wooden_cabinet_1_top_region``); a region resolves to the object that
    carries it via ``object_sites_dict[...].parent_name``. Table regions have no
    parent object and are dropped.
    """
    known = set(getattr(env, "objects_dict", {})) | set(getattr(env, "fixtures_dict", {}))
    sites = getattr(env, "object_sites_dict", {}) or {}
    out: set[str] = set()
    for name in getattr(env, "obj_of_interest", None) or []:
        if name in known:
            out.add(name)
        else:
            parent = getattr(sites.get(name), "parent_name", None)
            if parent in known:
                out.add(parent)
    return out


def roots_from_env(env: Any, targets: Iterable[str] | None = None) -> dict[str, RootSpec]:
    """Root bodies of a robosuite/LIBERO env (``OffScreenRenderEnv(...).env``) and their classes.

    ``targets`` overrides the task's objects of interest (default:
    :func:`target_names`). Precedence when a body is declared twice: robot parts
    over scene parts, table over fixture.
    """
    targets = target_names(env) if targets is None else set(targets)
    roots: dict[str, RootSpec] = {}
    for name in table_body_names(env):
        roots[name] = RootSpec(BodyClass.TABLE, name)
    for name, obj in getattr(env, "fixtures_dict", {}).items():
        cls = BodyClass.TARGET if name in targets else BodyClass.FIXTURE
        roots.setdefault(obj.root_body, RootSpec(cls, name))
    for name, obj in getattr(env, "objects_dict", {}).items():
        cls = BodyClass.TARGET if name in targets else BodyClass.OBJECT
        roots[obj.root_body] = RootSpec(cls, name, movable=True)
    for extra in (getattr(env, "mistvla_extras", None) or {}).values():  # inserted obstacles, distractors
        cls = BodyClass.OBSTACLE if extra.role == "obstacle" else BodyClass.OBJECT
        roots[extra.body] = RootSpec(cls, extra.name, movable=True)
    for i, robot in enumerate(getattr(env, "robots", [])):
        robot_model = robot.robot_model
        roots[robot_model.root_body] = RootSpec(BodyClass.ARM, f"robot{i}")
        mount = getattr(robot_model, "mount", None)
        if mount is not None:
            roots[mount.root_body] = RootSpec(BodyClass.MOUNT, f"mount{i}")
        for j, gripper in enumerate(_names_of(getattr(robot, "gripper", None))):
            owner = f"gripper{i}" if j == 0 else f"gripper{i}_{j}"
            roots[gripper.root_body] = RootSpec(BodyClass.GRIPPER, owner)
    return roots


def classify_env(env: Any, targets: Iterable[str] | None = None) -> GeomClasses:
    """Classify the geoms of the env's *current* model (call again after a hard reset)."""
    return classify_geoms(env.sim.model._model, roots_from_env(env, targets))
