"""The SmolVLA adapter's capture/steering (generic CaptureSpec / SteeringSpec, active per predicted chunk)."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"

import numpy as np
import pytest

from mistvla.hooks.arch.smolvla_residual import SmolVLAResidualCapture
from mistvla.hooks.capture import CaptureSpec
from mistvla.hooks.session import count_hooks
from mistvla.hooks.steering import SteeringSpec
from mistvla.policies.smolvla.policy import SmolVLAPolicy
from mistvla.policies.testing.tiny_smolvla import TinySmolVLASpec, build_tiny_smolvla

TASK = "turn on the stove and put the moka pot on it"
SPEC = TinySmolVLASpec(chunk_size=4, n_action_steps=2, num_steps=3)
POINTS = ("llm.blocks.1.resid_post", "expert.blocks.2.resid_post", "expert.blocks.0.mlp_out")


@pytest.fixture(scope="module")
def policy(tmp_path_factory: pytest.TempPathFactory) -> SmolVLAPolicy:
    return SmolVLAPolicy(build_tiny_smolvla(tmp_path_factory.mktemp("smolvla_hooks"), SPEC), noise_seed=0)


def obs(seed: int) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "images": {
            c: rng.integers(0, 256, (32, 32, 3), dtype=np.uint8) for c in ("agentview", "robot0_eye_in_hand")
        },
        "proprio": {
            "eef_pos": np.zeros(3),
            "eef_quat": np.array([0.0, 1.0, 0.0, 0.0]),
            "gripper_qpos": np.zeros(2),
        },
    }


def run(policy: SmolVLAPolicy, steps: int = 3) -> np.ndarray:
    policy.reset(TASK, seed=0)
    return np.stack([policy.select_action(obs(k)) for k in range(steps)])


def test_capture_record_per_predicted_chunk(policy):
    model = policy.hook_model()
    wx = model.model.vlm_with_expert
    d_llm, d_exp = wx.config.text_config.hidden_size, wx.expert_hidden_size
    policy.set_capture(CaptureSpec(POINTS, ("last_prompt", "mean", "generated")))
    try:
        policy.reset(TASK, seed=0)
        policy.select_action(obs(0))
        assert count_hooks(model) == 0  # hooks only while the model runs
        rec = policy.last_capture
        assert rec is not None and rec.meta["arch"] == "smolvla"
        calls = {n: c["prefill"] for n, c in rec.meta["calls"].items()}
        assert calls == {POINTS[0]: 1, POINTS[1]: SPEC.num_steps, POINTS[2]: SPEC.num_steps}
        llm, exp = rec.arrays[POINTS[0]], rec.arrays[POINTS[1]]
        assert llm["last_prompt"].shape == (d_llm,) and exp["mean"].shape == (d_exp,)
        assert exp["generated"].shape == (1, d_exp) and exp["generated"].dtype == np.float32
        policy.select_action(obs(1))  # popped from the queue: the model did not run
        assert not policy.replanned and policy.last_capture is rec
        policy.select_action(obs(2))
        assert policy.replanned and policy.last_capture is not rec
        policy.reset(TASK)
        assert policy.last_capture is None
    finally:
        policy.set_capture(None)
    # the record holds the last denoising step, as the raw reconstruction sees it
    with SmolVLAResidualCapture(model, [POINTS[1]]) as raw:
        policy.reset(TASK, seed=0)
        policy.select_action(obs(0))
    np.testing.assert_array_equal(raw.records[POINTS[1]][-1][0, -1].numpy(), exp["last_prompt"])
    assert count_hooks(model) == 0


def test_steering_zero_is_identical_nonzero_changes(policy):
    base = run(policy)
    dim = policy.hook_model().model.vlm_with_expert.expert_hidden_size
    for mode in ("absolute", "relative"):
        policy.set_steering(SteeringSpec({"expert.blocks.1.resid_post": np.zeros(dim)}, alpha=3.0, mode=mode))
        assert np.array_equal(run(policy), base), mode
        vec = np.random.default_rng(1).normal(size=dim)
        policy.set_steering(SteeringSpec({"expert.blocks.1.resid_post": vec}, alpha=2.0, mode=mode))
        assert np.abs(run(policy) - base).max() > 1e-3, mode
    policy.set_steering(None)
    assert np.array_equal(run(policy), base)
    assert count_hooks(policy.hook_model()) == 0


def test_bad_specs_fail_clearly(policy):
    with pytest.raises(KeyError, match="not valid"):
        policy.set_capture(CaptureSpec(("expert.blocks.99.resid_post",)))
    policy.set_steering(SteeringSpec({"expert.blocks.1.resid_post": np.ones(3)}))
    try:
        policy.reset(TASK)
        with pytest.raises(ValueError, match="dim 3"):
            policy.select_action(obs(0))
    finally:
        policy.set_steering(None)
    assert count_hooks(policy.hook_model()) == 0
