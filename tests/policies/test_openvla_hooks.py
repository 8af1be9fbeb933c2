"""Capture and steering through OpenVLAPolicy: per-step arrays, action effects, no leaked hooks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mistvla.hooks import CaptureSpec, SteeringSpec, count_hooks
from mistvla.policies.openvla.loading import build_inputs
from mistvla.policies.openvla.policy import OpenVLAPolicy
from mistvla.policies.testing.tiny_llava import build_tiny_llava

POINT = "llm.blocks.2.resid_post"
SPEC = CaptureSpec((POINT, "llm.final_norm"), ("last_prompt", "generated", "mean"))


@pytest.fixture(scope="module")
def policy(tmp_path_factory):
    # Small image (4 patches) and width: the 100-step leak test stays cheap on a shared CPU.
    ckpt = build_tiny_llava(tmp_path_factory.mktemp("tiny_openvla_hooks"), hidden_size=32, image_size=64)
    p = OpenVLAPolicy(ckpt)
    p.reset("put the bowl on the stove")
    return p


def _obs(seed: int) -> dict:
    img = np.random.default_rng(seed).integers(0, 255, (256, 256, 3), dtype=np.uint8)
    return {"images": {"agentview": img}}


def _vector(policy, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=policy.model.config.text_config.hidden_size)


def test_capture_per_step_equals_a_plain_forward(policy):
    policy.set_capture(SPEC)
    try:
        obs = _obs(0)
        policy.select_action(obs)
        rec = policy.last_capture
    finally:
        policy.set_capture(None)
    d = policy.model.config.text_config.hidden_size
    assert rec.arrays[POINT]["last_prompt"].shape == (d,)
    assert rec.arrays[POINT]["generated"].shape == (7, d)
    assert rec.meta["calls"][POINT] == {"prefill": 1, "decode": 6}
    inputs = build_inputs(policy.vla, policy.prompt, policy.preprocess(obs))
    with torch.inference_mode():
        hs = policy.model(**inputs, output_hidden_states=True).hidden_states
    np.testing.assert_array_equal(rec.arrays[POINT]["last_prompt"], hs[3][0, -1].numpy())
    np.testing.assert_array_equal(rec.arrays["llm.final_norm"]["generated"][0], hs[-1][0, -1].numpy())


def test_steering_changes_the_action_and_zero_or_unset_does_not(policy):
    obs = _obs(1)
    base = policy.select_action(obs)
    base_tokens = policy.last_step["token_ids"].copy()
    policy.set_steering(SteeringSpec({POINT: np.zeros_like(_vector(policy))}, alpha=5.0, mode="relative"))
    np.testing.assert_array_equal(policy.select_action(obs), base)
    policy.set_steering(SteeringSpec({POINT: _vector(policy)}, alpha=1.0, mode="relative"))
    steered = policy.select_action(obs)
    assert not np.array_equal(policy.last_step["token_ids"], base_tokens)
    assert not np.array_equal(steered, base)
    policy.set_steering(None)
    np.testing.assert_array_equal(policy.select_action(obs), base)


def test_no_hook_leaks_over_100_steps(policy):
    model = policy.hook_model()
    baseline = count_hooks(model)
    policy.set_capture(SPEC)
    policy.set_steering(
        SteeringSpec({POINT: _vector(policy)}, alpha=0.05, mode="relative", positions="generated")
    )
    try:
        for step in range(100):
            policy.select_action(_obs(step % 5))
            assert count_hooks(model) == baseline, f"hooks left after step {step}"
            assert policy.last_capture.arrays[POINT]["generated"].shape[0] == 7
    finally:
        policy.set_capture(None)
        policy.set_steering(None)
    assert count_hooks(model) == baseline


def test_failing_step_leaves_no_hooks(policy):
    model = policy.hook_model()
    baseline = count_hooks(model)
    policy.set_capture(SPEC)
    policy.set_steering(SteeringSpec({POINT: np.ones(3)}))  # wrong dimension: raises inside the forward
    try:
        with pytest.raises(ValueError, match="has dim 3"):
            policy.select_action(_obs(0))
        assert count_hooks(model) == baseline
    finally:
        policy.set_capture(None)
        policy.set_steering(None)
    policy.select_action(_obs(0))
