"""Dataset conventions: how an env observation becomes ``observation.state`` and image features.

``lerobot`` (the default of ``mistvla demos`` and ``mistvla export``) is what a policy sees
under ``lerobot-eval --env.type=libero``: LeRobot 0.4.4's ``LiberoEnv`` observation after
``preprocess_observation`` and ``LiberoProcessorStep``:

- ``observation.state`` (8, float32): eef position, the eef quaternion (x-y-z-w) as
  axis-angle with ``angle = 2 acos(w)`` and **no** sign canonicalisation (so the angle
  lies in [0, 2 pi]), the two finger joints;
- ``observation.images.image`` (agentview) and ``observation.images.image2``
  (eye-in-hand), each robosuite's raw frame rotated by 180 degrees (rows and columns
  flipped). mistvla's env hands out frames the right way up (rows flipped only), so the
  LeRobot frame is that one mirrored left-right; it is also OpenVLA's LIBERO training view.

``mistvla`` is the layout of datasets written before this convention existed: the env's
``eef_axis_angle`` (quaternion canonicalised to ``w >= 0``, angle in [0, pi]), image keys
``observation.images.<camera>`` and the env's upright frames. Both state layouts give the
same rotation (the axis-angle vectors differ by a full turn only), so models that read
the rotation as a matrix (the reference policy) see the same input either way.

>>> q = np.array([0.0, 0.0, -np.sin(0.5), -np.cos(0.5)])  # 1 rad about +z, with w < 0
>>> np.round(lerobot_axis_angle(q).astype(float), 4).tolist()  # 2 pi - 1 rad about -z: same rotation
[0.0, 0.0, -5.2832]
>>> image_key("robot0_eye_in_hand", "lerobot"), image_key("robot0_eye_in_hand", "mistvla")
('observation.images.image2', 'observation.images.robot0_eye_in_hand')
>>> convention_frame(np.arange(6, dtype=np.uint8).reshape(1, 2, 3), "lerobot").ravel().tolist()
[3, 4, 5, 0, 1, 2]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import numpy as np

from mistvla.harness.envs.vectors import state_vector
from mistvla.harness.errors import ConfigError

Convention = Literal["lerobot", "mistvla"]
CONVENTIONS: tuple[str, ...] = ("lerobot", "mistvla")
DEFAULT_CONVENTION: Convention = "lerobot"

LEROBOT_IMAGE_KEYS: dict[str, str] = {
    "agentview": "observation.images.image",
    "robot0_eye_in_hand": "observation.images.image2",
}
"""mistvla camera -> the feature key LeRobot's LIBERO env gives it."""


def check_convention(convention: str, field: str = "convention") -> str:
    """``convention`` if known, else a one-line ``ConfigError`` naming ``field``."""
    if convention not in CONVENTIONS:
        raise ConfigError(f"{field}: must be one of {list(CONVENTIONS)}, got {convention!r}")
    return convention


def lerobot_axis_angle(quat: np.ndarray) -> np.ndarray:
    """x-y-z-w quaternion(s) ``(..., 4)`` -> axis-angle ``(..., 3)`` float32, by LeRobot's formula.

    The operations of ``LiberoProcessorStep._quat2axisangle`` in the same order, in torch
    float32 (``w`` clamped to [-1, 1], zero vector where ``sqrt(1 - w^2) <= 1e-10``), so the
    result is bit for bit LeRobot's.
    """
    import torch

    arr = np.asarray(quat)
    q = torch.as_tensor(arr.reshape(-1, 4)).to(dtype=torch.float32)
    w = q[:, 3].clamp(-1.0, 1.0)
    den = torch.sqrt(torch.clamp(1.0 - w * w, min=0.0))
    out = torch.zeros((q.shape[0], 3))
    mask = den > 1e-10
    if mask.any():
        angle = 2.0 * torch.acos(w[mask])
        out[mask] = q[mask, :3] / den[mask].unsqueeze(1) * angle.unsqueeze(1)
    return out.numpy().reshape(*arr.shape[:-1], 3)


def lerobot_state(proprio: Mapping[str, Any]) -> np.ndarray:
    """float32 (8,): ``eef_pos``, :func:`lerobot_axis_angle` of ``eef_quat``, ``gripper_qpos``."""
    missing = [k for k in ("eef_pos", "eef_quat", "gripper_qpos") if k not in proprio]
    if missing:
        raise KeyError(
            f"obs['proprio'] lacks {missing}; LeRobot's LIBERO state needs eef_pos (3), "
            f"eef_quat (4, x-y-z-w) and gripper_qpos (2). Got keys: {sorted(proprio)}"
        )
    pos = np.asarray(proprio["eef_pos"], dtype=np.float64).reshape(3).astype(np.float32)
    grip = np.asarray(proprio["gripper_qpos"], dtype=np.float64).reshape(2).astype(np.float32)
    return np.concatenate([pos, lerobot_axis_angle(np.asarray(proprio["eef_quat"]).reshape(4)), grip])


def convention_state(obs: Mapping[str, Any], convention: str) -> np.ndarray:
    """float32 (8,) ``observation.state`` of an env observation under ``convention``."""
    if check_convention(convention) == "lerobot":
        return lerobot_state(obs["proprio"])
    return state_vector(obs)


def image_key(camera: str, convention: str) -> str:
    """The dataset feature key of ``camera``'s frames under ``convention``."""
    if check_convention(convention) == "lerobot" and camera in LEROBOT_IMAGE_KEYS:
        return LEROBOT_IMAGE_KEYS[camera]
    return f"observation.images.{camera}"


def convention_frame(upright: np.ndarray, convention: str) -> np.ndarray:
    """An env frame (right way up, ``raw[::-1]``) as stored under ``convention``."""
    img = np.asarray(upright)
    if check_convention(convention) == "lerobot":
        img = img[:, ::-1]  # raw[::-1, ::-1]: LeRobot's (and OpenVLA's) 180-degree rotation
    return np.ascontiguousarray(img)
