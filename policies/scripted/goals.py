"""The static task description the scripted expert acts on: a BDDL goal and object shapes.

The expert never reads simulator state during an episode. Before the first
episode it is given a :class:`TaskSpec`: the task's single pick-and-place goal
(parsed from the BDDL ``goal_state``) and every object's bounding box in its
own body frame (static geometry from the MuJoCo model). During the episode it
reads only the observation (proprioception and ``obs["privileged"]`` poses).

Goals it can script: one ``(On obj target)`` or ``(In obj target_contain_region)``
where ``obj`` is a movable object and ``target`` an object (``plate_1``) or a
container's region (``basket_1_contain_region``). Anything else (drawers,
``Open``/``Close``, ``TurnOn``, regions of the table or of fixtures, two-step
goals) raises :class:`UnsupportedTaskError` naming the predicate.

>>> g = parse_goal([["on", "akita_black_bowl_1", "plate_1"]], objects=["akita_black_bowl_1", "plate_1"])
>>> (g.relation, g.obj, g.target, g.target_object)
('on', 'akita_black_bowl_1', 'plate_1', 'plate_1')
>>> parse_goal([["in", "soup_1", "basket_1_contain_region"]], objects=["soup_1", "basket_1"]).target_object
'basket_1'
>>> try:
...     parse_goal([["turnon", "flat_stove_1"]], objects=[])
... except UnsupportedTaskError as err:
...     print(str(err).split(":")[0])
the scripted expert cannot script the goal predicate (turnon flat_stove_1)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mistvla.harness.errors import UnsupportedTaskError

SUPPORTED_RELATIONS: tuple[str, ...] = ("on", "in")
CONTAIN_SUFFIXES: tuple[str, ...] = ("_contain_region",)


def _fmt(pred: Sequence[str]) -> str:
    return "(" + " ".join(str(p) for p in pred) + ")"


@dataclass(frozen=True)
class PickPlaceGoal:
    """Move movable object ``obj`` onto / into ``target_object`` (``target`` is the BDDL name)."""

    relation: str
    obj: str
    target: str
    target_object: str


def parse_goal(goal_state: Sequence[Sequence[str]], objects: Sequence[str]) -> PickPlaceGoal:
    """Turn a BDDL ``goal_state`` into a :class:`PickPlaceGoal`, or raise :class:`UnsupportedTaskError`.

    ``objects`` are the movable objects of the task (``rs.objects_dict`` keys).
    """
    reason = "only a single (On obj target) or (In obj container_region) between movable objects is supported"
    preds = [list(map(str, p)) for p in goal_state]
    if len(preds) != 1:
        shown = " ".join(_fmt(p) for p in preds)
        raise UnsupportedTaskError(
            f"the scripted expert cannot script the {len(preds)}-predicate goal (And {shown}): {reason}"
        )
    pred = preds[0]
    rel = pred[0].lower()
    if rel not in SUPPORTED_RELATIONS or len(pred) != 3:
        raise UnsupportedTaskError(
            f"the scripted expert cannot script the goal predicate {_fmt(pred)}: {reason}"
        )
    obj, target = pred[1], pred[2]
    movable = set(objects)
    target_object = target
    for suffix in CONTAIN_SUFFIXES:
        if target.endswith(suffix):
            target_object = target[: -len(suffix)]
    if obj not in movable or target_object not in movable or (rel == "in" and target_object == target):
        raise UnsupportedTaskError(
            f"the scripted expert cannot script the goal predicate {_fmt(pred)}: {reason} "
            f"(movable objects: {', '.join(sorted(movable))})"
        )
    return PickPlaceGoal(relation=rel, obj=obj, target=target, target_object=target_object)


@dataclass(frozen=True)
class ObjectShape:
    """Axis-aligned bounding box of an object's collision geoms, in its own body frame (m)."""

    lo: tuple[float, float, float]
    hi: tuple[float, float, float]
    parts: tuple[tuple[tuple[float, float, float], tuple[float, float, float]], ...] = ()
    """(lo, hi) boxes of the collision geoms rigidly attached to the object (not drawers, doors)."""

    def corners(self) -> np.ndarray:
        """The 8 box corners, (8, 3), in the body frame."""
        lo, hi = np.asarray(self.lo), np.asarray(self.hi)
        return _box_corners(lo, hi)

    def part_corners(self) -> list[np.ndarray]:
        """The 8 corners of each rigid part box (the whole box if no parts were recorded)."""
        if not self.parts:
            return [self.corners()]
        return [_box_corners(np.asarray(lo), np.asarray(hi)) for lo, hi in self.parts]


def _box_corners(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    idx = np.array([[i >> 2 & 1, i >> 1 & 1, i & 1] for i in range(8)])
    return np.where(idx == 1, hi, lo)


@dataclass(frozen=True)
class TaskSpec:
    """Everything static the expert knows about one task."""

    instruction: str
    goal: PickPlaceGoal
    shapes: dict[str, ObjectShape] = field(default_factory=dict)
    movable: tuple[str, ...] = ()
    """Movable objects (candidates for the wrong-object perturbation)."""


def _body_shape(model: Any, data: Any, body: int) -> ObjectShape:
    """Bounding box of the collision geoms of the body tree rooted at ``body``, in its frame."""
    root = model.body_rootid[body]
    rot = data.xmat[body].reshape(3, 3)
    pos = data.xpos[body]
    signs = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)])
    pts, parts = [], []
    for g in range(model.ngeom):
        b = model.geom_bodyid[g]
        if model.body_rootid[b] != root:
            continue
        if model.geom_contype[g] == 0 and model.geom_conaffinity[g] == 0:
            continue
        center, half = model.geom_aabb[g][:3], model.geom_aabb[g][3:]
        grot = data.geom_xmat[g].reshape(3, 3)
        local = (data.geom_xpos[g] + (center + signs * half) @ grot.T - pos) @ rot
        pts.append(local)
        if _rigidly_attached(model, b, body):
            parts.append((_tuple3(local.min(0)), _tuple3(local.max(0))))
    if not pts:
        return ObjectShape((0.0, 0.0, 0.0), (0.0, 0.0, 0.0))
    allp = np.concatenate(pts)
    return ObjectShape(_tuple3(allp.min(0)), _tuple3(allp.max(0)), tuple(parts))


def _tuple3(v: np.ndarray) -> tuple[float, float, float]:
    return (float(v[0]), float(v[1]), float(v[2]))


def _rigidly_attached(model: Any, body: int, root: int) -> bool:
    """True when no joint lies between ``body`` and ``root`` (a drawer or door is not rigid)."""
    while body != root and body != 0:
        if model.body_jntnum[body] > 0:
            return False
        body = model.body_parentid[body]
    return body == root


def task_spec_from_env(env: Any) -> TaskSpec:
    """Extract the :class:`TaskSpec` of a :class:`~mistvla.harness.envs.libero.LiberoEnv` (once, before episodes).

    Reads the parsed BDDL goal and the model's static geometry; raises
    :class:`UnsupportedTaskError` for goals the expert cannot script.
    """
    rs = env.unwrapped_libero.env
    goal = parse_goal(rs.parsed_problem["goal_state"], list(rs.objects_dict))
    model, data = env.sim.model._model, env.sim.data._data
    import mujoco

    mujoco.mj_kinematics(model, data)
    shapes = {}
    for name, obj in {**rs.objects_dict, **rs.fixtures_dict}.items():
        body = model.body(obj.root_body).id
        shapes[name] = _body_shape(model, data, body)
    return TaskSpec(instruction=env.instruction, goal=goal, shapes=shapes, movable=tuple(rs.objects_dict))


def goal_from_bddl(bddl_file: str) -> PickPlaceGoal:
    """Parse a BDDL file (no simulator) into a :class:`PickPlaceGoal`, or raise :class:`UnsupportedTaskError`."""
    from mistvla.harness.envs.setup import ensure_libero

    ensure_libero()
    from libero.libero.envs.bddl_utils import robosuite_parse_problem

    problem = robosuite_parse_problem(bddl_file)
    movable = [name for names in problem["objects"].values() for name in names]
    return parse_goal(problem["goal_state"], movable)
