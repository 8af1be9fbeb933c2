"""The flat vectors a LIBERO observation becomes in a demonstration dataset.

:func:`state_vector` is the ``mistvla`` state (8 floats: end-effector position, the env's
canonicalised end-effector axis-angle, the two finger joints): LeRobot's LIBERO layout, but
not its axis-angle formula (see :mod:`~mistvla.harness.envs.conventions`, whose ``lerobot``
convention datasets are written in by default).
``observation.environment_state`` is the privileged pose (position + x-y-z-w
quaternion, 7 floats) of every object named in ``object_names``, in that
order; objects absent from a task are zeros.

>>> obs = {"proprio": {"eef_pos": np.ones(3), "eef_axis_angle": np.zeros(3), "gripper_qpos": np.ones(2)},
...        "privileged": {"bowl_1": np.arange(7.0)}}
>>> state_vector(obs).tolist()
[1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0]
>>> environment_vector(obs, ("bowl_1", "plate_1")).reshape(2, 7)[:, 0].tolist()
[0.0, 0.0]
>>> environment_vector(obs, ("bowl_1", "plate_1")).reshape(2, 7)[0, 6]
np.float32(6.0)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

STATE_NAMES = ("eef_x", "eef_y", "eef_z", "eef_ax", "eef_ay", "eef_az", "finger_l", "finger_r")
ACTION_NAMES = ("x", "y", "z", "roll", "pitch", "yaw", "gripper")
POSE_DIM = 7


def state_vector(obs: dict[str, Any]) -> np.ndarray:
    """float32 (8,): eef position, eef axis-angle, finger joint positions."""
    p = obs["proprio"]
    return np.concatenate([p["eef_pos"], p["eef_axis_angle"], p["gripper_qpos"]]).astype(np.float32)


def environment_vector(obs: dict[str, Any], object_names: Sequence[str]) -> np.ndarray:
    """float32 (7 * len(object_names),): each named object's pose, zeros where the task lacks it."""
    poses = obs.get("privileged", {})
    out = np.zeros((len(object_names), POSE_DIM), dtype=np.float32)
    for i, name in enumerate(object_names):
        if name in poses:
            out[i] = np.asarray(poses[name], dtype=np.float32)
    return out.reshape(-1)


def environment_names(object_names: Sequence[str]) -> list[str]:
    """Per-float names of the environment-state vector (``bowl_1.x`` ... ``bowl_1.qw``)."""
    fields = ("x", "y", "z", "qx", "qy", "qz", "qw")
    return [f"{n}.{f}" for n in object_names for f in fields]
