"""Geometry for the scripted expert: top-down grasp planning, gripper yaw and pose errors.

Conventions (robosuite Panda, LIBERO): the hand points down when its rotation
is ``diag(1, -1, -1)``; the fingers close along the hand's local y axis;
``eef_pos`` is the point between the finger pads. Orientation deltas of the
OSC_POSE controller are axis-angle vectors in the world frame.

>>> np.round(down_rotation(0.0), 6).tolist()
[[1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, -1.0]]
>>> np.abs(np.round(closing_axis(down_rotation(yaw_for_closing_axis(np.array([1.0, 0.0])))), 6)).tolist()
[1.0, 0.0, 0.0]
>>> float(np.round(np.linalg.norm(rotation_error(down_rotation(0.3), down_rotation(0.0))), 6))
0.3
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from mistvla.policies.scripted.goals import ObjectShape

GRIPPER_MAX_OPENING = 0.075
"""Widest object (m) the Panda fingers close around, with margin."""
FINGER_HALF_SPAN = 0.045
"""Distance (m) from the grip point to each open finger pad."""
PAD_DEPTH = 0.012
"""How far (m) the finger tips reach below ``eef_pos``."""


def quat_xyzw_to_matrix(quat: np.ndarray) -> np.ndarray:
    """(x, y, z, w) quaternion to a 3x3 rotation matrix."""
    return Rotation.from_quat(np.asarray(quat, dtype=np.float64)).as_matrix()


def down_rotation(yaw: float) -> np.ndarray:
    """Hand rotation pointing straight down, turned by ``yaw`` about the world z axis."""
    c, s = np.cos(yaw), np.sin(yaw)
    rz = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    return rz @ np.diag([1.0, -1.0, -1.0])


def closing_axis(rot: np.ndarray) -> np.ndarray:
    """World direction along which the fingers close, for hand rotation ``rot``."""
    return rot[:, 1]


def yaw_for_closing_axis(direction_xy: np.ndarray) -> float:
    """The yaw in (-pi/2, pi/2] whose fingers close along ``direction_xy`` (either sign)."""
    phi = float(np.arctan2(direction_xy[1], direction_xy[0]))
    yaw = phi - np.pi / 2  # closing axis of down_rotation(yaw) is (sin yaw, -cos yaw)
    return float((yaw + np.pi / 2) % np.pi - np.pi / 2)


def best_yaw(yaw: float, current_rot: np.ndarray) -> float:
    """``yaw`` or ``yaw + pi`` (the same grasp), whichever is closer to the current hand rotation."""
    options = [yaw, yaw + np.pi, yaw - np.pi]
    errs = [np.linalg.norm(rotation_error(down_rotation(y), current_rot)) for y in options]
    return float(options[int(np.argmin(errs))])


def rotation_error(desired: np.ndarray, current: np.ndarray) -> np.ndarray:
    """World-frame axis-angle vector that rotates ``current`` onto ``desired``."""
    return Rotation.from_matrix(desired @ current.T).as_rotvec()


def world_corners(pose: np.ndarray, shape: ObjectShape) -> np.ndarray:
    """(8, 3) world-frame corners of an object's box, for a (7,) pos + quat xyzw pose."""
    rot = quat_xyzw_to_matrix(pose[3:7])
    return pose[:3] + shape.corners() @ rot.T


def bottom_z(pose: np.ndarray, shape: ObjectShape) -> float:
    """Lowest point of the object's box (m, world)."""
    return float(world_corners(pose, shape)[:, 2].min())


def top_z(pose: np.ndarray, shape: ObjectShape) -> float:
    """Highest point of the object's box (m, world)."""
    return float(world_corners(pose, shape)[:, 2].max())


def horizontal_axes(pose: np.ndarray, shape: ObjectShape) -> tuple[np.ndarray, float, np.ndarray, float]:
    """The object's two most horizontal box axes: (short dir_xy, short extent, long dir_xy, long extent)."""
    rot = quat_xyzw_to_matrix(pose[3:7])
    ext = np.asarray(shape.hi) - np.asarray(shape.lo)
    order = np.argsort(np.abs(rot[2, :]))[:2]  # local axes with the least vertical component
    dirs = []
    for k in order:
        d = rot[:2, k]
        dirs.append((d / max(np.linalg.norm(d), 1e-9), float(ext[k])))
    dirs.sort(key=lambda t: t[1])
    return dirs[0][0], dirs[0][1], dirs[1][0], dirs[1][1]


def box_center(pose: np.ndarray, shape: ObjectShape) -> np.ndarray:
    """World position of the centre of the object's box."""
    rot = quat_xyzw_to_matrix(pose[3:7])
    return pose[:3] + rot @ ((np.asarray(shape.lo) + np.asarray(shape.hi)) / 2)


@dataclass(frozen=True)
class Grasp:
    """Where the grip point goes (world, m) and the finger closing direction (xy unit vector)."""

    point: np.ndarray
    axis_xy: np.ndarray
    kind: str
    """``"center"`` (fingers around the object) or ``"rim"`` (fingers around a bowl's wall)."""


def _clearance(points_xy: np.ndarray, z_low: float, obstacles: list[np.ndarray]) -> float:
    """Smallest horizontal distance from ``points_xy`` to obstacle boxes reaching above ``z_low``."""
    best = 1.0
    for corners in obstacles:
        if corners[:, 2].max() < z_low:
            continue
        lo, hi = corners[:, :2].min(0), corners[:, :2].max(0)
        gap = np.maximum(np.maximum(lo - points_xy, points_xy - hi), 0.0)
        best = min(best, float(np.linalg.norm(gap, axis=1).min()))
    return best


def plan_grasp(
    pose: np.ndarray,
    shape: ObjectShape,
    obstacles: list[np.ndarray],
    current_rot: np.ndarray,
    rim: bool,
) -> Grasp:
    """A top-down grasp of the object at ``pose``.

    Compact objects are grasped at the box centre (fingers across the short
    horizontal side, below the top by at most 4 cm, above the floor by the pad
    depth). Bowls (``rim=True``) are grasped by the wall: the grip point sits
    just inside the rim on the side with the most room around the fingers,
    preferring little wrist rotation.
    """
    center = box_center(pose, shape)
    top, bottom = top_z(pose, shape), bottom_z(pose, shape)
    if not rim:
        short_dir, _, _, _ = horizontal_axes(pose, shape)
        z = max(bottom + PAD_DEPTH + 0.004, min(center[2], top - 0.04))
        return Grasp(np.array([center[0], center[1], z]), short_dir, "center")
    _, short_ext, _, long_ext = horizontal_axes(pose, shape)
    radius = max(short_ext, long_ext) / 2 - 0.012
    z = top - 0.02
    cur_axis = closing_axis(current_rot)[:2]
    best, best_score = None, -np.inf
    for ang in np.arange(16) * np.pi / 8:
        u = np.array([np.cos(ang), np.sin(ang)])
        point = center[:2] + radius * u
        fingers = np.array([point + FINGER_HALF_SPAN * u, point - FINGER_HALF_SPAN * u, point])
        clear = min(_clearance(fingers, z - PAD_DEPTH, obstacles), 0.05)
        turn = 1.0 - abs(float(np.dot(u, cur_axis / max(np.linalg.norm(cur_axis), 1e-9))))
        toward_robot = -u[0]  # the robot stands at -x
        score = 10.0 * clear - 0.02 * turn + 0.01 * toward_robot
        if score > best_score:
            best, best_score = (point, u), score
    point, u = best
    return Grasp(np.array([point[0], point[1], z]), u, "rim")


def obstacle_boxes(
    poses: dict[str, np.ndarray], shapes: dict[str, ObjectShape], exclude: set[str]
) -> list[np.ndarray]:
    """World corners of every rigid part of every object except those in ``exclude``."""
    out = []
    for name, pose in poses.items():
        if name in exclude or name not in shapes:
            continue
        rot = quat_xyzw_to_matrix(pose[3:7])
        out.extend(pose[:3] + c @ rot.T for c in shapes[name].part_corners())
    return out


def path_clearance_height(
    start_xy: np.ndarray, end_xy: np.ndarray, obstacles: list[np.ndarray], margin: float = 0.1
) -> float:
    """Highest top (m) of the obstacles within ``margin`` of the straight path start -> end."""
    seg = end_xy - start_xy
    length2 = max(float(seg @ seg), 1e-9)
    high = -np.inf
    for corners in obstacles:
        c = corners[:, :2].mean(0)
        t = np.clip(float((c - start_xy) @ seg) / length2, 0.0, 1.0)
        half = (corners[:, :2].max(0) - corners[:, :2].min(0)) / 2
        if np.linalg.norm(c - (start_xy + t * seg)) < margin + float(np.linalg.norm(half)):
            high = max(high, float(corners[:, 2].max()))
    return high
