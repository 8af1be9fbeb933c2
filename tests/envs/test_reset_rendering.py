"""A reset with cameras renders only the frame the policy sees, and that frame is unchanged."""

from __future__ import annotations

import time

import numpy as np
import pytest

from mistvla.harness.envs.libero import LiberoEnv


def _flat(obs: dict, prefix: str = "") -> dict[str, np.ndarray]:
    out = {}
    for key, value in obs.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}/"))
        else:
            out[f"{prefix}{key}"] = np.asarray(value)
    return out


@pytest.mark.render
def test_blanked_reset_gives_the_same_observation_and_renders_less():
    env = LiberoEnv("libero_spatial", 0, cameras=("agentview", "robot0_eye_in_hand"), image_size=64)
    renders = []
    real_render = env.sim.render
    env.sim.render = lambda *a, **k: renders.append(1) or real_render(*a, **k)
    try:
        results = {}
        for blank in (False, True, False, True):  # soft resets after an episode's worth of state
            env.blank_reset_renders = blank
            renders.clear()
            t = time.perf_counter()
            obs, _ = env.reset(seed=7, options={"init_state": 3})
            results.setdefault(blank, []).append((_flat(obs), len(renders), time.perf_counter() - t))
            env.step(np.full(7, 0.3, dtype=np.float32))
    finally:
        env.close()
    for (full, n_full, _), (blanked, n_blank, _) in zip(results[False], results[True], strict=True):
        assert full.keys() == blanked.keys()
        for key in full:
            np.testing.assert_array_equal(blanked[key], full[key], err_msg=key)
        assert full["images/agentview"].any()  # a real frame, not the zeros used while blanked
        assert n_blank == 2 and n_full > 10  # one frame per camera instead of one per step


@pytest.mark.render
def test_reflections_off_changes_only_the_images():
    """``reflections: false`` draws the scene without MuJoCo's reflection pass: other pixels, the same physics."""
    runs = {}
    for reflections in (True, False):
        env = LiberoEnv("libero_spatial", 0, cameras=("agentview",), image_size=64, reflections=reflections)
        try:
            env.reset(seed=7, options={"init_state": 3})
            obs, *_ = env.step(np.full(7, 0.3, dtype=np.float32))
            runs[reflections] = _flat(obs)
        finally:
            env.close()
    on, off = runs[True], runs[False]
    for key in (k for k in on if not k.startswith("images/")):
        np.testing.assert_array_equal(on[key], off[key], err_msg=key)
    changed = (
        np.abs(on["images/agentview"].astype(int) - off["images/agentview"].astype(int)).max(axis=-1) > 8
    )
    assert (
        0.002 < changed.mean() < 0.1
    )  # the reflective stove top and plate (~1 % of the frame), nothing else
