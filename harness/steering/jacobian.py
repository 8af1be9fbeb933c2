"""Jacobian directions: the minimum-norm hidden-state shift that moves one action dimension alone.

At hook point P and the position the action is read from (``last_prompt``:
the action-query token of the reference policy), :func:`jacobian_fit_data`
takes, per frame, the Jacobian ``J`` (7 x hidden) of the policy's action (arm
in env action units, gripper as its logit) with respect to the hidden state,
by autograd through the policy's ``differentiable_action``. The ``jacobian``
method averages ``J`` over the frames and takes the columns of its
pseudo-inverse: column ``d`` changes ``a_d`` by 1 and every other row, the
gripper logit included, by 0 (to first order). The vector for ``d`` is minus
that column, unit-norm (it pushes ``a_d`` down, the ``signed`` convention);
``1 / ||column||`` is its effect per unit shift, recorded in ``fit.json``.

>>> W = np.zeros((7, 9)); W[np.arange(7), np.arange(7)] = 1.0; W[5, 2] = W[6, 3] = 0.5; W[:, 8] = 0.2
>>> vecs, per_unit = pinv_directions(W[None].repeat(3, 0))
>>> v = vecs[2]; (np.round(W @ v / per_unit[2], 6) + 0.0).tolist()  # the shift along v per unit moves a_2 by -per_unit
[0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 0.0]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from mistvla.harness.errors import ConfigError
from mistvla.harness.steering.data import FitData
from mistvla.harness.steering.fit import SteeringMethod

N_MOTION_DIMS = 6


def pinv_directions(jacobians: np.ndarray) -> tuple[dict[int, np.ndarray], list[float]]:
    """Unit vectors (minus the pinv columns of the mean Jacobian) and their decrease of a_d per unit shift."""
    J = np.asarray(jacobians, dtype=np.float64).mean(axis=0)
    P = np.linalg.pinv(J)
    vectors, per_unit = {}, []
    for d in range(N_MOTION_DIMS):
        col = P[:, d]
        norm = float(np.linalg.norm(col))
        if not np.isfinite(norm) or norm == 0.0:
            raise ConfigError(
                f"--point: the action does not depend on the hidden state there (dimension {d})"
            )
        vectors[d] = (-col / norm).astype(np.float32)
        per_unit.append(1.0 / norm)
    return vectors, per_unit


def jacobian(data: FitData, target: str, quantile: float, seed: int) -> dict[int, np.ndarray]:
    """The ``jacobian`` method (needs ``data.jacobians``: fit from frames, ``steer fit --frames``)."""
    if data.jacobians is None:
        raise ConfigError(
            "--method jacobian: fit from demonstration frames (--frames and --params), not runs"
        )
    vectors, per_unit = pinv_directions(data.jacobians)
    data.source["effect_per_unit"] = [round(x, 6) for x in per_unit]
    return vectors


JACOBIAN = SteeringMethod(jacobian, targets=("signed",), mode="absolute", needs_frames=True)
"""Pushes a_d down (the signed convention), added in absolute hidden units at the action query."""


def _check_point(policy: Any, point: str, position: str) -> None:
    from mistvla.hooks import valid_names

    names = valid_names(policy.hook_model(), policy.arch)
    if point not in names:
        blocks = sum(1 for n in names if n.endswith(".resid_post"))
        raise ConfigError(
            f"--point: {point!r} is not a hook point of this policy ({blocks} blocks; e.g. {names[0]!r})"
        )
    reads = getattr(policy, "action_positions", ("last_prompt",))
    if position not in reads:
        raise ConfigError(
            f"--position: the action of this policy is read at {', '.join(reads)}, not {position!r}"
        )
    if not hasattr(policy, "differentiable_action"):
        raise ConfigError(f"--method jacobian: policy {type(policy).__name__} has no differentiable_action")


def frame_jacobian(
    policy: Any, instruction: str, obs: dict[str, Any], point: str
) -> tuple[np.ndarray, np.ndarray]:
    """(hidden,) state at ``point``'s last prompt position and the (7, hidden) Jacobian of the action there
    (the policy reset to ``instruction`` first: one stored frame)."""
    policy.reset(instruction, seed=0)
    h, J, _ = jacobian_here(policy, obs, point)
    return h, J


def jacobian_here(policy: Any, obs: dict[str, Any], point: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(hidden,) state, (7, hidden) Jacobian and (7,) unsteered action (arm in env units, gripper logit) at
    ``point``'s last prompt position for this observation, in the policy's current episode (not reset)."""
    import torch

    from mistvla.hooks import resolve
    from mistvla.hooks.session import register_point

    res = resolve(policy.hook_model(), point, policy.arch).point
    seen: dict[str, torch.Tensor] = {}

    def add(h: torch.Tensor) -> torch.Tensor:
        delta = torch.zeros(h.shape[-1], dtype=h.dtype, requires_grad=True)
        seen["delta"], seen["h"] = delta, h[0, -1].detach()
        out = h.clone()
        out[..., -1, :] = out[..., -1, :] + delta
        return out

    handle = register_point(res, add)
    try:
        with torch.enable_grad():
            action = policy.differentiable_action(obs)
            rows = [torch.autograd.grad(action[j], seen["delta"], retain_graph=j < 6)[0] for j in range(7)]
    finally:
        handle.remove()
    return seen["h"].float().numpy(), torch.stack(rows).float().numpy(), action.detach().float().numpy()


def jacobian_fit_data(
    policy: Any, samples: Sequence[tuple[str, dict[str, Any]]], point: str, position: str = "last_prompt"
) -> FitData:
    """Hidden states, actions and per-frame Jacobians at ``point``/``position`` for the ``jacobian`` method."""
    _check_point(policy, point, position)
    xs, js, acts = [], [], []
    for ins, obs in samples:
        h, J = frame_jacobian(policy, ins, obs, point)
        policy.reset(ins, seed=0)
        acts.append(np.asarray(policy.select_action(obs), dtype=np.float32))
        xs.append(h)
        js.append(J)
    source = {"kind": "frames", "point": point, "position": position, "n_frames": len(xs)}
    return FitData(np.stack(xs), np.stack(acts), None, source, jacobians=np.stack(js))
