"""Per-step Jacobian directions (``jacobian_online``): the minimum-norm shift at this step's own state.

The fixed ``jacobian`` set averages the Jacobian ``J`` of the action with
respect to the hidden state over the fit frames; where ``J`` varies from state
to state (any nonlinear head), the mean's pseudo-inverse columns are selective
on average, not at every frame. ``jacobian_online`` recomputes ``J`` at the
current observation on every gated step: one forward pass with autograd
(unsteered: its output is this step's exact ``a_d``) and 7 backward passes
(:func:`~mistvla.harness.steering.jacobian.jacobian_here`), then ``pinv(J)``.
The shift along column ``d`` that changes ``a_d`` by ``-fraction * a_d`` (and,
to first order, every other row, the gripper logit included, by 0) is then
added in the forward pass that produces the step's action, saturating at
``max_shift``. Cost: about one forward and seven backward passes more on each
gated step, none on the others.

A set fitted with ``--method jacobian_online`` holds the frames' mean
directions (the ``jacobian`` vectors: the random placebo's reference and what
a fixed-strength replay would use) and ``fit.json``'s method, which the
``steer`` intervention reads to steer online; ``mistvla steer check`` scores
such a set with each frame's own directions.

>>> J = np.eye(7, 9); J[0, 8] = 1.0                    # a_0 reads h_0 + h_8
>>> v, per_unit = pinv_column(J, 0)
>>> round(per_unit, 4), (np.round(J @ v, 4) + 0.0).tolist()  # a_0 down by per_unit, nothing else moves
(1.4142, [-1.4142, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
>>> online_shift(a_d=0.2, per_unit=0.5, fraction=0.5, max_shift=0.15)  # wants 0.2, saturates
0.15
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mistvla.harness.errors import ConfigError
from mistvla.harness.steering.fit import SteeringMethod
from mistvla.harness.steering.jacobian import jacobian, jacobian_here


def pinv_column(J: np.ndarray, d: int) -> tuple[np.ndarray, float]:
    """Unit vector minus the ``d``-th pinv column of ``J`` (7, hidden) and its decrease of ``a_d`` per unit."""
    col = np.linalg.pinv(np.asarray(J, dtype=np.float64))[:, d]
    norm = float(np.linalg.norm(col))
    if not np.isfinite(norm) or norm == 0.0:
        return np.zeros(col.shape, np.float32), 0.0
    return (-col / norm).astype(np.float32), 1.0 / norm


def online_shift(a_d: float, per_unit: float, fraction: float, max_shift: float) -> float:
    """The shift along the unit direction that changes ``a_d`` by ``-fraction * a_d``, within ``±max_shift``."""
    if per_unit == 0 or not np.isfinite(per_unit):
        return 0.0
    return float(np.clip(fraction * a_d / per_unit, -max_shift, max_shift))


def online_spec(
    policy: Any, obs: dict[str, Any], point: str, dim: int, fraction: float, max_shift: float
) -> tuple[Any, float]:
    """This step's :class:`~mistvla.hooks.steering.SteeringSpec` for ``dim`` (absolute, at the last prompt
    position) and its shift, from the Jacobian at ``obs`` in the policy's current episode."""
    from mistvla.hooks import SteeringSpec

    _, J, action = jacobian_here(policy, obs, point)
    v, per_unit = pinv_column(J, dim)
    shift = online_shift(float(action[dim]), per_unit, fraction, max_shift)
    return SteeringSpec({point: v}, alpha=shift, mode="absolute", positions="last_prompt"), shift


def away_spec(columns: np.ndarray, toward: np.ndarray, gain: float, point: str, max_shift: float) -> Any:
    """The shift that asks for ``gain`` of translation away from ``toward`` (x, y, z) and no other change:
    ``columns`` (hidden, 3) are the pinv columns of x, y, z (each moves its own a_d by +1), the norm
    saturating at ``max_shift``. None when the request is zero.

    >>> spec = away_spec(np.eye(4)[:, :3] * 2.0, np.array([0.0, 0.0, 1.0]), 0.5, "p", 10.0)
    >>> spec.alpha, spec.vectors["p"].tolist()   # a_z down by 0.5: 0.5 units of column z (norm 2)
    (1.0, [0.0, 0.0, -1.0, 0.0])
    """
    from mistvla.hooks import SteeringSpec

    delta = np.asarray(columns, dtype=np.float64) @ (-gain * np.asarray(toward, dtype=np.float64))
    norm = float(np.linalg.norm(delta))
    if not np.isfinite(norm) or norm == 0.0:
        return None
    return SteeringSpec(
        {point: (delta / norm).astype(np.float32)},
        alpha=min(norm, max_shift),
        mode="absolute",
        positions="last_prompt",
    )


def online_away_spec(
    policy: Any, obs: dict[str, Any], point: str, toward: np.ndarray, gain: float, max_shift: float
) -> Any:
    """:func:`away_spec` through the pinv of this step's own Jacobian at ``obs``."""
    _, J, _ = jacobian_here(policy, obs, point)
    P = np.linalg.pinv(np.asarray(J, dtype=np.float64))
    return away_spec(P[:, :3], toward, gain, point, max_shift)


def frame_directions(policy: Any, samples: list, point: str) -> list[dict[int, tuple[np.ndarray, float]]]:
    """Per ``(instruction, observation)`` sample: ``{d: (unit vector, decrease of a_d per unit)}`` at its own J."""
    from mistvla.harness.steering.jacobian import N_MOTION_DIMS, frame_jacobian

    out = []
    for ins, obs in samples:
        _, J = frame_jacobian(policy, ins, obs, point)
        out.append({d: pinv_column(J, d) for d in range(N_MOTION_DIMS)})
    return out


def check_online_options(strength: str, where: str = "steering") -> None:
    """``jacobian_online`` sets steer in action units (the shift comes from this step's own a_d)."""
    if strength != "action":
        raise ConfigError(
            f"{where}: a jacobian_online set steers in action units per step; set strength: action"
        )


JACOBIAN_ONLINE = SteeringMethod(
    jacobian, targets=("signed",), mode="absolute", needs_frames=True, online=True
)
"""The ``jacobian`` fit (mean directions, kept for the placebo and the record); steered per step online."""
