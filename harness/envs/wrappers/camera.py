"""Camera viewpoint: the agentview camera rotated about a pivot on the table and moved in or out.

As LIBERO-plus: the camera position ``p`` becomes ``pivot + s * R (p - pivot)``
and its orientation ``R q``, where ``R`` is a yaw about the world z axis
followed by a pitch about the horizontal axis across the line of sight, both
through ``pivot`` (default (0, 0, 0.8)), and ``s`` scales the distance to the
pivot (out by ``distance_scale`` or in by its inverse). Signs are drawn per
episode; the level sets the magnitudes. Cameras on a moving body (the wrist
camera, only if named in ``cameras``) are turned in place, not moved.

>>> q = rotation_quat(np.array([0.0, 0.0, 1.0]), 90.0)
>>> np.round(rotate(q, np.array([1.0, 0.0, 0.0])), 6)
array([0., 1., 0.])
>>> CameraPerturbation.LEVELS[5]
{'yaw_deg': 30.0, 'pitch_deg': 15.0, 'distance_scale': 1.3}
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from mistvla.harness.envs.wrappers.base import PerturbationWrapper


def rotation_quat(axis: np.ndarray, degrees: float) -> np.ndarray:
    """MuJoCo (w, x, y, z) quaternion of a rotation by ``degrees`` about ``axis``."""
    axis = np.asarray(axis, dtype=np.float64)
    axis = axis / np.linalg.norm(axis)
    half = np.deg2rad(degrees) / 2.0
    return np.concatenate([[np.cos(half)], np.sin(half) * axis])


def quat_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product of (w, x, y, z) quaternions."""
    w1, x1, y1, z1 = a
    w2, x2, y2, z2 = b
    return np.array(
        [
            w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2,
            w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
            w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2,
            w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2,
        ]
    )


def rotate(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Vector ``v`` rotated by quaternion ``q``."""
    conj = q * np.array([1.0, -1.0, -1.0, -1.0])
    return quat_mul(quat_mul(q, np.concatenate([[0.0], v])), conj)[1:]


@dataclass(frozen=True)
class CameraOptions:
    cameras: tuple[str, ...] = ("agentview",)
    """Cameras to move; the wrist camera ``robot0_eye_in_hand`` is untouched unless named."""
    pivot: tuple[float, float, float] = (0.0, 0.0, 0.8)


class CameraPerturbation(PerturbationWrapper):
    """Rotate the named cameras about the table pivot and scale their distance to it."""

    name = "camera"
    Config = CameraOptions
    visual = True
    LEVELS: ClassVar[dict[int, dict[str, Any]]] = {
        1: {"yaw_deg": 5.0, "pitch_deg": 2.5, "distance_scale": 1.05},
        2: {"yaw_deg": 10.0, "pitch_deg": 5.0, "distance_scale": 1.1},
        3: {"yaw_deg": 15.0, "pitch_deg": 7.5, "distance_scale": 1.15},
        4: {"yaw_deg": 22.5, "pitch_deg": 11.25, "distance_scale": 1.2},
        5: {"yaw_deg": 30.0, "pitch_deg": 15.0, "distance_scale": 1.3},
    }

    def sample(self, rng: np.random.Generator, env: Any) -> dict[str, Any]:
        row = self.level_params()
        yaw_sign, pitch_sign, out = rng.choice([-1.0, 1.0], size=3)
        scale = row["distance_scale"] if out > 0 else 1.0 / row["distance_scale"]
        return {
            "yaw_deg": float(yaw_sign * row["yaw_deg"]),
            "pitch_deg": float(pitch_sign * row["pitch_deg"]),
            "distance_scale": float(scale),
            "cameras": list(self.options.cameras),
        }

    def apply(self, env: Any) -> None:
        model = env.sim.model._model
        pivot = np.asarray(self.options.pivot, dtype=np.float64)
        for cam in self.options.cameras:
            cid = env.sim.model.camera_name2id(cam)
            pos, quat = model.cam_pos[cid].copy(), model.cam_quat[cid].copy()
            yaw = rotation_quat(np.array([0.0, 0.0, 1.0]), self.params["yaw_deg"])
            if model.cam_bodyid[cid] == 0:  # fixed in the world: orbit the pivot
                rel = rotate(yaw, pos - pivot)
                across = np.cross([0.0, 0.0, 1.0], rel)
                across = across if np.linalg.norm(across) > 1e-9 else np.array([1.0, 0.0, 0.0])
                turn = quat_mul(rotation_quat(across, self.params["pitch_deg"]), yaw)
                new_pos = pivot + self.params["distance_scale"] * rotate(turn, pos - pivot)
                new_quat = quat_mul(turn, quat)
            else:  # on a moving body: turn in place, in the camera's own frame
                pitch = rotation_quat(np.array([1.0, 0.0, 0.0]), self.params["pitch_deg"])
                new_pos, new_quat = pos, quat_mul(quat, quat_mul(yaw, pitch))
            self.set_field(model, "cam_pos", cid, new_pos)
            self.set_field(model, "cam_quat", cid, new_quat / np.linalg.norm(new_quat))
