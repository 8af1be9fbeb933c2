"""Smoke test: the tiny SmolVLA drives a real LIBERO env (rendered cameras) through the adapter."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"

import numpy as np
import pytest

from mistvla.harness.envs.libero import LiberoEnv
from mistvla.policies.smolvla.policy import SmolVLAPolicy
from mistvla.policies.testing.tiny_smolvla import TinySmolVLASpec, build_tiny_smolvla


@pytest.mark.render
@pytest.mark.slow
def test_tiny_smolvla_steps_a_real_libero_env(tmp_path):
    policy = SmolVLAPolicy(build_tiny_smolvla(tmp_path, TinySmolVLASpec(n_action_steps=2)), noise_seed=0)
    req = policy.requirements
    env = LiberoEnv("libero_spatial", 0, cameras=req.cameras, image_size=req.image_size, max_steps=6)
    try:
        obs, _ = env.reset(seed=0)
        assert set(obs["images"]) == set(req.cameras)
        policy.reset(env.instruction, seed=0)
        replans = []
        for _ in range(6):
            action = policy.select_action(obs)
            assert action.shape == (7,) and action.dtype == np.float32 and np.all(np.abs(action) <= 1)
            replans.append(policy.replanned)
            obs, _, terminated, truncated, info = env.step(action)
            if terminated or truncated:
                break
        assert replans == [True, False] * 3
        # step limit reached; random weights do not solve the task
        assert truncated and not terminated and not info["is_success"]
    finally:
        env.close()
