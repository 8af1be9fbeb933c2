"""Turn a mistvla LIBERO observation into the batch LeRobot's SmolVLA reads.

LeRobot evaluates LIBERO checkpoints (e.g. ``HuggingFaceVLA/smolvla_libero``)
through ``lerobot.envs.libero.LiberoEnv`` and ``LiberoProcessorStep``, which

- rotate each raw robosuite frame by 180 degrees (flip rows *and* columns), and
- build an 8-D ``observation.state``: end-effector position (3), the
  end-effector quaternion (x, y, z, w) turned into axis-angle with
  ``angle = 2 acos(w)`` and no sign canonicalisation (3), gripper finger joint
  positions (2), in float32.

mistvla's env returns frames flipped vertically only (the right way up), so
one more horizontal flip reproduces LeRobot's input exactly; and the state is
rebuilt from ``eef_quat`` with LeRobot's own formula (not from the env's
``eef_axis_angle``, which canonicalises ``w >= 0`` and so differs from
LeRobot's vector whenever robosuite reports ``w < 0``). Both are the ``lerobot``
dataset convention of :mod:`mistvla.harness.envs.conventions`, so a policy trained
on a ``mistvla demos`` / ``mistvla export`` dataset sees the same inputs here.

>>> import numpy as np
>>> obs = {"images": {"agentview": np.zeros((4, 4, 3), np.uint8)},
...        "proprio": {"eef_pos": np.zeros(3), "eef_quat": np.array([0.0, 0.0, 0.0, 1.0]),
...                    "gripper_qpos": np.array([0.01, -0.01])}}
>>> libero_state(obs["proprio"]).shape
(8,)
>>> image_to_tensor(obs["images"]["agentview"], flip_horizontal=True).shape
torch.Size([1, 3, 4, 4])
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from mistvla.harness.envs.conventions import (
    LEROBOT_IMAGE_KEYS,
    convention_frame,
    lerobot_axis_angle,
    lerobot_state,
)

LIBERO_CAMERA_MAP: dict[str, str] = dict(LEROBOT_IMAGE_KEYS)
"""mistvla camera name -> LeRobot feature key, as LeRobot's LIBERO env names them."""

STATE_KEY = "observation.state"


def quat_xyzw_to_axis_angle_lerobot(quat: np.ndarray | torch.Tensor) -> torch.Tensor:
    """LeRobot's LIBERO quaternion -> axis-angle (``LiberoProcessorStep._quat2axisangle``), float32.

    Batched ``(B, 4)`` or single ``(4,)`` input; returns ``(B, 3)`` or ``(3,)``
    (:func:`mistvla.harness.envs.conventions.lerobot_axis_angle`, the dataset convention's formula).

    >>> quat_xyzw_to_axis_angle_lerobot(np.array([0.0, 0.0, 0.0, 1.0])).tolist()
    [0.0, 0.0, 0.0]
    """
    return torch.from_numpy(lerobot_axis_angle(np.asarray(quat)))


def libero_state(proprio: Mapping[str, Any]) -> np.ndarray:
    """The 8-D LeRobot LIBERO state (eef pos, LeRobot axis-angle, gripper qpos) as float32."""
    return lerobot_state(proprio)


def image_to_tensor(image: np.ndarray, *, flip_horizontal: bool) -> torch.Tensor:
    """uint8 ``(H, W, 3)`` -> float32 ``(1, 3, H, W)`` in [0, 1], as ``preprocess_observation`` does."""
    arr = np.asarray(image)
    if arr.ndim != 3 or arr.shape[-1] != 3 or arr.dtype != np.uint8:
        raise ValueError(f"expected a uint8 (H, W, 3) image, got {arr.dtype} {arr.shape}")
    if flip_horizontal:  # the env's upright frame -> LeRobot's 180-degree-rotated one
        arr = convention_frame(arr, "lerobot")
    t = torch.from_numpy(np.ascontiguousarray(arr)).permute(2, 0, 1).unsqueeze(0)
    return t.to(torch.float32) / 255


def to_lerobot_batch(
    obs: Mapping[str, Any],
    instruction: str,
    camera_map: Mapping[str, str],
    *,
    state_key: str = STATE_KEY,
    flip_horizontal: bool = True,
) -> dict[str, Any]:
    """Build the raw (un-normalised, un-tokenised) batch of size 1 for LeRobot's preprocessor."""
    images = obs.get("images") or {}
    absent = [c for c in camera_map if c not in images]
    if absent:
        raise KeyError(
            f"SmolVLA reads cameras {list(camera_map)} but obs['images'] has {sorted(images)}; "
            f"missing {absent}. Render them (policy.requirements.cameras) or change camera_map."
        )
    batch: dict[str, Any] = {
        key: image_to_tensor(images[cam], flip_horizontal=flip_horizontal) for cam, key in camera_map.items()
    }
    if "proprio" not in obs:
        raise KeyError("SmolVLA needs obs['proprio'] (eef_pos, eef_quat, gripper_qpos)")
    batch[state_key] = torch.from_numpy(libero_state(obs["proprio"])).unsqueeze(0)
    batch["task"] = [instruction]
    return batch
