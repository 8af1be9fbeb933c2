"""Helpers of the wrapper tests: rollouts, PSNR, snapshots of the rendering fields."""

from __future__ import annotations

import numpy as np

VISUAL_FIELDS = (
    "cam_pos",
    "cam_quat",
    "light_diffuse",
    "light_dir",
    "light_castshadow",
    "mat_rgba",
    "geom_matid",
)
MOVE = np.array([0.6, -0.4, 0.3, 0.0, 0.0, 0.2, -1.0])


def rollout(env, actions=(), seed=0, init_state=0):
    """Observations and infos of a reset followed by ``actions``; the env's scene restored afterwards."""
    obs, info = env.reset(seed=seed, options={"init_state": init_state})
    out = [(obs, info)]
    for a in actions:
        obs, _, _, _, info = env.step(a)
        out.append((obs, info))
    restore = getattr(env, "restore", None)
    if restore is not None:
        restore()
    return out


def image(obs):
    return obs["images"]["agentview"]


def psnr(a, b):
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def psnr_by_level(env, cls, seed=0, **kwargs):
    """PSNR of the reset image at levels 1..5 against the clean reset image."""
    clean = image(rollout(env, seed=seed)[0][0])
    return [
        psnr(image(rollout(cls(env, level=lvl, seed=seed, **kwargs))[0][0]), clean) for lvl in range(1, 6)
    ]


def visual_fields(env):
    model = env.sim.model._model
    return {f: getattr(model, f).copy() for f in VISUAL_FIELDS}


def same_obs(a, b):
    """Bit-identical observation dicts (images, proprio, privileged)."""
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same_obs(a[k], b[k]) for k in a)
    return np.array_equal(np.asarray(a), np.asarray(b))
