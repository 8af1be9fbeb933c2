"""OpenVLA action decoding: token ids -> bins -> normalized actions -> env actions.

Each step follows the published code (openvla/openvla, see docs/openvla.md):

1. ``tokens_to_normalized``: ``modeling_prismatic.OpenVLAForActionPrediction.predict_action``
   — action tokens are the last 256 ids of the base vocabulary; ``vocab_size - id``
   is the 1-based bin, clipped to the 255 bin centres of ``linspace(-1, 1, 256)``.
2. ``unnormalize``: same function — ``0.5 * (a + 1) * (q99 - q01) + q01`` where
   ``mask`` is true (the gripper's mask is false: it stays as decoded).
3. ``gripper_to_env``: ``robot_utils.normalize_gripper_action(binarize=True)`` then
   ``robot_utils.invert_gripper_action`` — ``sign(2 g - 1)``, then times -1
   (OpenVLA's data has 0 = close, 1 = open; robosuite wants -1 = open, +1 = close).

>>> centers = bin_centers()
>>> len(centers), round(float(centers[0]), 4), round(float(centers[-1]), 4)
(255, -0.9961, 0.9961)
>>> tokens_to_normalized(np.array([31999, 31744, 100]), vocab_size=32000).round(4).tolist()
[-0.9961, 0.9961, 0.9961]
>>> stats = {"q01": [-1.0, 0.0], "q99": [1.0, 2.0], "mask": [True, False]}
>>> unnormalize(np.array([0.5, 0.5]), stats).tolist()
[0.5, 0.5]
>>> gripper_to_env(np.array([0.0, 0.996])).tolist(), gripper_to_env(np.array([0.0, 0.004])).tolist()
([0.0, -1.0], [0.0, 1.0])
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

N_BINS = 256
"""``config.n_action_bins`` of the released OpenVLA checkpoints."""


def bin_centers(n_bins: int = N_BINS) -> np.ndarray:
    """Centres of the ``n_bins - 1`` intervals of ``linspace(-1, 1, n_bins)``."""
    bins = np.linspace(-1, 1, n_bins)
    return (bins[:-1] + bins[1:]) / 2.0


def tokens_to_normalized(token_ids: np.ndarray, vocab_size: int, n_bins: int = N_BINS) -> np.ndarray:
    """Normalized actions in [-1, 1] for generated token ids (any id; out-of-range ids are clipped)."""
    centers = bin_centers(n_bins)
    discretized = vocab_size - np.asarray(token_ids, dtype=np.int64)
    idx = np.clip(discretized - 1, a_min=0, a_max=centers.shape[0] - 1)
    return centers[idx]


def is_action_token(token_ids: np.ndarray, vocab_size: int, n_bins: int = N_BINS) -> np.ndarray:
    """Whether each id is one of the ``n_bins`` action tokens (``vocab_size - n_bins <= id < vocab_size``)."""
    ids = np.asarray(token_ids)
    return (ids >= vocab_size - n_bins) & (ids < vocab_size)


def unnormalize(normalized: np.ndarray, action_stats: dict[str, Any]) -> np.ndarray:
    """Map [-1, 1] back to [q01, q99] on masked dims; unmasked dims pass through unchanged."""
    q01 = np.asarray(action_stats["q01"], dtype=np.float64)
    q99 = np.asarray(action_stats["q99"], dtype=np.float64)
    mask = np.asarray(action_stats.get("mask", np.ones_like(q01, dtype=bool)), dtype=bool)
    return np.where(mask, 0.5 * (normalized + 1) * (q99 - q01) + q01, normalized)


def gripper_to_env(action: np.ndarray, binarize: bool = True) -> np.ndarray:
    """Last dim from OpenVLA's [0, 1] (0 = close) to robosuite's {-1, +1} (+1 = close)."""
    out = np.array(action, dtype=np.float64, copy=True)
    out[..., -1] = 2.0 * out[..., -1] - 1.0
    if binarize:
        out[..., -1] = np.sign(out[..., -1])
    out[..., -1] = -out[..., -1]
    return out


def decode_action(
    token_ids: np.ndarray, vocab_size: int, action_stats: dict[str, Any], binarize_gripper: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """(normalized actions, env action as float32) for one step's generated action tokens."""
    normalized = tokens_to_normalized(token_ids, vocab_size)
    action = gripper_to_env(unnormalize(normalized, action_stats), binarize=binarize_gripper)
    return normalized, action.astype(np.float32)


def load_norm_stats(checkpoint_dir: str | Path, config: Any = None) -> dict[str, Any]:
    """``config.norm_stats`` updated by ``dataset_statistics.json`` (as ``openvla_utils.get_vla`` does)."""
    stats: dict[str, Any] = dict(getattr(config, "norm_stats", None) or {})
    path = Path(checkpoint_dir) / "dataset_statistics.json"
    if path.is_file():
        stats.update(json.loads(path.read_text()))
    return stats


def choose_unnorm_key(norm_stats: dict[str, Any], unnorm_key: str | None) -> str:
    """The statistics key to use (``run_libero_eval.py``: ``<suite>`` or else ``<suite>_no_noops``).

    >>> choose_unnorm_key({"libero_goal_no_noops": {}}, "libero_goal")
    'libero_goal_no_noops'
    >>> choose_unnorm_key({"a": {}, "b": {}}, "c")
    Traceback (most recent call last):
    ...
    KeyError: "unnorm_key 'c' not in the checkpoint's norm_stats; available: a, b"
    """
    keys = sorted(norm_stats)
    if not keys:
        raise KeyError("the checkpoint has no norm_stats (config.norm_stats or dataset_statistics.json)")
    if unnorm_key is None:
        if len(keys) != 1:
            raise KeyError(
                f"the checkpoint has several norm_stats; choose unnorm_key from: {', '.join(keys)}"
            )
        return keys[0]
    if unnorm_key in norm_stats:
        return unnorm_key
    if f"{unnorm_key}_no_noops" in norm_stats:
        return f"{unnorm_key}_no_noops"
    raise KeyError(
        f"unnorm_key {unnorm_key!r} not in the checkpoint's norm_stats; available: {', '.join(keys)}"
    )
