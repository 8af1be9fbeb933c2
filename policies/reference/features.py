"""Dataset vectors -> model inputs: rotations as matrices, so that no input jumps.

The end effector points down, where its axis-angle vector sits near angle pi
and flips sign under tiny rotations; object quaternions have a sign ambiguity.
Both become the 9 entries of their rotation matrix, which is continuous.

- state (8: eef pos, eef axis-angle, fingers) -> 14: pos, rotation matrix, fingers.
- environment (7 per object: pos, x-y-z-w quaternion) -> 12 per object: pos, rotation
  matrix; an absent object (all zeros) stays all zeros. With the end effector's position
  (``relative=True`` models), 3 more per object: its position minus the end effector's, so that
  the network reads "how far is the gripper from the bowl" directly instead of subtracting two
  tokens (measured: without it the policy stalls ~1 cm off the grasp point, docs/reference_policy.md).
- history (``history=k`` models): 5 more state features, the end effector's displacement and the
  fingers' change since k steps ago. The expert's switches depend on its recent past (it closes
  the gripper when its descent has stalled for 6 steps, e.g. on a can whose grasp point is below
  what the fingers can reach); from the current state alone that switch is invisible.

>>> s = np.array([[0.1, 0.2, 0.3, np.pi, 0, 0, 0.04, -0.04]])
>>> state_features(s).shape, np.round(state_features(s)[0, 3:12], 6).tolist()[:5]
((1, 14), [1.0, 0.0, 0.0, 0.0, -1.0])
>>> past = s.copy(); past[0, 2] = 0.2
>>> np.round(state_features(s, past)[0, 14:].astype(float), 6).tolist()
[0.0, 0.0, 0.1, 0.0, 0.0]
>>> env = np.array([[1, 2, 3, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]], dtype=float)
>>> environment_features(env).reshape(2, 12)[:, 3].tolist()
[1.0, 0.0]
>>> environment_features(env, eef_pos=np.array([[1.0, 2.0, 2.5]])).reshape(2, 15)[:, 12:].tolist()
[[0.0, 0.0, 0.5], [0.0, 0.0, 0.0]]
"""

from __future__ import annotations

import numpy as np

STATE_FEATURES = 14
OBJECT_FEATURES = 12
RELATIVE_FEATURES = 3
HISTORY_FEATURES = 5


def axis_angle_to_matrix(v: np.ndarray) -> np.ndarray:
    """(N, 3) axis-angle vectors -> (N, 3, 3) rotation matrices (Rodrigues)."""
    v = np.asarray(v, dtype=np.float64)
    theta = np.linalg.norm(v, axis=-1, keepdims=True)
    k = np.divide(v, theta, out=np.zeros_like(v), where=theta > 1e-12)
    kx, ky, kz = k[:, 0], k[:, 1], k[:, 2]
    zero = np.zeros_like(kx)
    kmat = np.stack([zero, -kz, ky, kz, zero, -kx, -ky, kx, zero], axis=-1).reshape(-1, 3, 3)
    t = theta[:, :, None]
    return np.eye(3) + np.sin(t) * kmat + (1 - np.cos(t)) * (kmat @ kmat)


def quat_to_matrix(q: np.ndarray) -> np.ndarray:
    """(N, 4) x-y-z-w quaternions -> (N, 3, 3); a zero quaternion gives a zero matrix."""
    q = np.asarray(q, dtype=np.float64)
    n = np.linalg.norm(q, axis=-1, keepdims=True)
    present = n[:, 0] > 1e-9
    q = np.divide(q, n, out=np.zeros_like(q), where=n > 1e-9)
    x, y, z, w = q[:, 0], q[:, 1], q[:, 2], q[:, 3]
    m = np.stack(
        [
            1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w),
            2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w),
            2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y),
        ],
        axis=-1,
    ).reshape(-1, 3, 3)  # fmt: skip
    return m * present[:, None, None]


def state_features(state: np.ndarray, past: np.ndarray | None = None) -> np.ndarray:
    """(N, 8) dataset states -> (N, 14) float32; with ``past`` (N, 8), the states k steps
    earlier: (N, 19), + eef displacement and finger change since then."""
    s = np.asarray(state, dtype=np.float64)
    rot = axis_angle_to_matrix(s[:, 3:6]).reshape(-1, 9)
    parts = [s[:, :3], rot, s[:, 6:8]]
    if past is not None:
        q = np.asarray(past, dtype=np.float64)
        parts += [s[:, :3] - q[:, :3], s[:, 6:8] - q[:, 6:8]]
    return np.concatenate(parts, axis=-1).astype(np.float32)


def past_states(state: np.ndarray, episode: np.ndarray, k: int) -> np.ndarray:
    """(N, 8): for each frame the state ``k`` frames earlier in its episode (its first frame if
    fewer); frames of an episode are consecutive and in time order.

    >>> past_states(np.arange(5.0)[:, None], np.array([0, 0, 0, 1, 1]), 2)[:, 0].tolist()
    [0.0, 0.0, 0.0, 3.0, 3.0]
    """
    n = len(state)
    idx = np.arange(n)
    new = np.r_[True, episode[1:] != episode[:-1]]
    start = np.maximum.accumulate(np.where(new, idx, 0))
    return np.asarray(state)[np.maximum(idx - k, start)]


def environment_features(env: np.ndarray, eef_pos: np.ndarray | None = None) -> np.ndarray:
    """(N, 7 K) object poses -> (N, 12 K) float32, or (N, 15 K) with ``eef_pos`` (N, 3): + pos - eef."""
    e = np.asarray(env, dtype=np.float64)
    n, k = e.shape[0], e.shape[1] // 7
    poses = e.reshape(n * k, 7)
    rot = quat_to_matrix(poses[:, 3:7]).reshape(n * k, 9)
    parts = [poses[:, :3], rot]
    if eef_pos is not None:
        present = np.abs(poses).sum(axis=1, keepdims=True) > 0
        eef = np.repeat(np.asarray(eef_pos, dtype=np.float64).reshape(n, 3), k, axis=0)
        parts.append(np.where(present, poses[:, :3] - eef, 0.0))
    return np.concatenate(parts, axis=-1).reshape(n, -1).astype(np.float32)


def object_features(relative: bool) -> int:
    """Features per object slot."""
    return OBJECT_FEATURES + (RELATIVE_FEATURES if relative else 0)
