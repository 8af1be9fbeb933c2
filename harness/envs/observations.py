"""Observation building for :class:`~mistvla.harness.envs.libero.LiberoEnv`.

Layout (a ``gymnasium.spaces.Dict``):

- ``images``: one ``uint8 (H, W, 3)`` array per requested camera, the right way
  up (MuJoCo's offscreen buffer is bottom row first; it is flipped vertically
  here, nothing else). Absent when no camera is requested.
- ``proprio``: ``eef_pos`` (3, world frame, m), ``eef_quat`` (4, x-y-z-w, as
  robosuite reports it), ``eef_axis_angle`` (3, the same orientation as an
  axis-angle vector, as LeRobot's LIBERO env builds its state), and
  ``gripper_qpos`` (2, finger joint positions, m).
- ``privileged`` (optional): ``pos`` and ``quat`` (x-y-z-w) of every movable
  object and fixture, each ``(7,)`` float64 keyed by LIBERO's object name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium import spaces

CAMERAS: tuple[str, ...] = ("agentview", "robot0_eye_in_hand")


def quat_xyzw_to_axis_angle(quat: np.ndarray) -> np.ndarray:
    """Unit quaternion (x, y, z, w) to an axis-angle vector (angle in [0, pi]).

    >>> np.round(quat_xyzw_to_axis_angle(np.array([0.0, 0.0, np.sin(0.5), np.cos(0.5)])), 6)
    array([0., 0., 1.])
    >>> quat_xyzw_to_axis_angle(np.array([0.0, 0.0, 0.0, 1.0]))
    array([0., 0., 0.])
    """
    q = np.asarray(quat, dtype=np.float64)
    q = q / np.linalg.norm(q)
    if q[3] < 0:
        q = -q
    sin_half = np.linalg.norm(q[:3])
    if sin_half < 1e-12:
        return np.zeros(3)
    angle = 2.0 * np.arctan2(sin_half, q[3])
    return q[:3] / sin_half * angle


@dataclass(frozen=True)
class WorkspaceBounds:
    """Real bounds of the positions an env can report.

    ``low``/``high``: a box around the whole MuJoCo model (``stat.center`` ±
    ``stat.extent``, which contains every body of the scene, robot included);
    ``gripper_low``/``gripper_high``: the finger joints' ranges plus 1 mm of
    slack (soft joint limits are slightly violated under load).

    >>> b = WorkspaceBounds((-1.0, -1.0, 0.0), (1.0, 1.0, 2.0), (0.0, -0.04), (0.04, 0.0))
    >>> observation_space((), 128, ["bowl"], b)["privileged"]["bowl"].high.tolist()
    [1.0, 1.0, 2.0, 1.0, 1.0, 1.0, 1.0]
    """

    low: tuple[float, float, float]
    high: tuple[float, float, float]
    gripper_low: tuple[float, float]
    gripper_high: tuple[float, float]

    @classmethod
    def from_model(cls, model: Any, gripper_joint_ids: Sequence[int]) -> WorkspaceBounds:
        center, extent = np.asarray(model.stat.center, dtype=np.float64), float(model.stat.extent)
        ranges = np.asarray(model.jnt_range)[list(gripper_joint_ids)]
        return cls(
            tuple(center - extent),
            tuple(center + extent),
            tuple(ranges[:, 0] - 1e-3),
            tuple(ranges[:, 1] + 1e-3),
        )


def observation_space(
    cameras: Sequence[str], image_size: int, object_names: Sequence[str] | None, bounds: WorkspaceBounds
) -> spaces.Dict:
    """The Dict space for the given cameras, resolution, (optional) privileged objects and workspace bounds."""
    low, high = np.asarray(bounds.low), np.asarray(bounds.high)
    parts: dict[str, spaces.Space] = {
        "proprio": spaces.Dict(
            {
                "eef_pos": spaces.Box(low, high, (3,), np.float64),
                "eef_quat": spaces.Box(-1.0, 1.0, (4,), np.float64),
                "eef_axis_angle": spaces.Box(-np.pi, np.pi, (3,), np.float64),
                "gripper_qpos": spaces.Box(
                    np.asarray(bounds.gripper_low), np.asarray(bounds.gripper_high), (2,), np.float64
                ),
            }
        )
    }
    if cameras:
        parts["images"] = spaces.Dict(
            {c: spaces.Box(0, 255, (image_size, image_size, 3), np.uint8) for c in cameras}
        )
    if object_names is not None:
        pose_low, pose_high = np.concatenate([low, -np.ones(4)]), np.concatenate([high, np.ones(4)])
        parts["privileged"] = spaces.Dict(
            {n: spaces.Box(pose_low, pose_high, (7,), np.float64) for n in object_names}
        )
    return spaces.Dict(parts)


def build_observation(
    raw: dict[str, Any],
    cameras: Sequence[str],
    object_bodies: dict[str, int] | None,
    data: Any,
) -> dict[str, Any]:
    """Assemble the observation from robosuite's raw obs dict and MuJoCo data.

    ``object_bodies`` maps object names to body ids (privileged poses), or None.
    """
    quat = np.asarray(raw["robot0_eef_quat"], dtype=np.float64)
    obs: dict[str, Any] = {
        "proprio": {
            "eef_pos": np.asarray(raw["robot0_eef_pos"], dtype=np.float64).copy(),
            "eef_quat": quat.copy(),
            "eef_axis_angle": np.clip(quat_xyzw_to_axis_angle(quat), -np.pi, np.pi),
            "gripper_qpos": np.asarray(raw["robot0_gripper_qpos"], dtype=np.float64).copy(),
        }
    }
    if cameras:
        # Raw frames come bottom row first (OpenGL); flip rows only.
        obs["images"] = {c: np.ascontiguousarray(raw[f"{c}_image"][::-1]) for c in cameras}
    if object_bodies is not None:
        poses = {}
        for name, body in object_bodies.items():
            wxyz = data.xquat[body]
            poses[name] = np.concatenate([data.xpos[body], wxyz[[1, 2, 3, 0]]]).astype(np.float64)
        obs["privileged"] = poses
    return obs
