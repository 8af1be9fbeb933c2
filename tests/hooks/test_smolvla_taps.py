"""Generic capture/steer sessions on SmolVLA through the resid_post taps."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"

import numpy as np
import pytest
import torch

from mistvla.hooks import CaptureSpec, SteeringSpec, capture, count_hooks, resolve, steer
from mistvla.hooks.arch.smolvla_residual import SmolVLAResidualCapture, SmolVLAResidualSteer
from mistvla.hooks.arch.smolvla_taps import ResidPostTap, attach_resid_post_taps
from mistvla.policies.smolvla.policy import SmolVLAPolicy
from mistvla.policies.testing.tiny_smolvla import TinySmolVLASpec, build_tiny_smolvla

TASK = "pick up the alphabet soup and place it in the basket"
SPEC = TinySmolVLASpec(chunk_size=4, n_action_steps=4, num_steps=2)
POINTS = ("llm.blocks.0.resid_post", "expert.blocks.1.resid_post")


@pytest.fixture(scope="module")
def policy(tmp_path_factory: pytest.TempPathFactory) -> SmolVLAPolicy:
    return SmolVLAPolicy(build_tiny_smolvla(tmp_path_factory.mktemp("smolvla_taps"), SPEC), noise_seed=0)


def obs() -> dict:
    rng = np.random.default_rng(3)
    return {
        "images": {
            c: rng.integers(0, 256, (32, 32, 3), dtype=np.uint8) for c in ("agentview", "robot0_eye_in_hand")
        },
        "proprio": {
            "eef_pos": np.ones(3),
            "eef_quat": np.array([0.5, 0.5, 0.5, 0.5]),
            "gripper_qpos": np.zeros(2),
        },
    }


def first_action(policy: SmolVLAPolicy) -> np.ndarray:
    policy.reset(TASK, seed=0)
    return policy.select_action(obs())


def test_taps_leave_weights_and_state_dict_alone(policy):
    model = policy.hook_model()
    keys = list(model.state_dict())
    assert not any("resid_post_tap" in k for k in keys)
    assert attach_resid_post_taps(model) == 8  # idempotent: 4 VLM + 4 expert blocks
    assert list(model.state_dict()) == keys
    tap = resolve(model, "expert.blocks.3.resid_post").point.module
    assert isinstance(tap, ResidPostTap) and tap.hook_name == "expert.blocks.3.resid_post"
    with pytest.raises(TypeError, match="output side"):
        tap.register_forward_pre_hook(lambda *a: None)
    with pytest.raises(RuntimeError, match="never called"):
        tap(torch.zeros(1))


def test_generic_capture_matches_reconstruction(policy):
    model = policy.hook_model()
    with (
        SmolVLAResidualCapture(model, POINTS) as ours,
        capture(model, CaptureSpec(POINTS, ("last_prompt", "mean"))) as cap,
    ):
        first_action(policy)
    rec = cap.pop()
    assert rec.meta["calls"][POINTS[1]]["prefill"] == SPEC.num_steps  # every denoising call restarts
    for name in POINTS:
        last = ours.records[name][-1]
        np.testing.assert_array_equal(rec.arrays[name]["last_prompt"], last[:, -1].numpy())
        np.testing.assert_array_equal(rec.arrays[name]["mean"], last.float().mean(dim=1).numpy())
    assert count_hooks(model) == 0


@pytest.mark.parametrize("mode", ["absolute", "relative"])
def test_generic_steer_zero_identical_nonzero_changes(policy, mode):
    model = policy.hook_model()
    base = first_action(policy)
    dims = {
        n: resolve(model, n.replace("resid_post", "mlp_out")).point.module.down_proj.out_features
        for n in POINTS
    }
    zero = SteeringSpec({n: np.zeros(d) for n, d in dims.items()}, alpha=2.0, mode=mode)
    with steer(model, zero):
        assert np.array_equal(first_action(policy), base)
    rng = np.random.default_rng(0)
    vec = {POINTS[1]: rng.normal(size=dims[POINTS[1]])}
    with steer(model, SteeringSpec(vec, alpha=1.0, mode=mode)):
        generic = first_action(policy)
    assert np.abs(generic - base).max() > 1e-3
    with SmolVLAResidualSteer(
        model, {k: torch.tensor(v, dtype=torch.float32) for k, v in vec.items()}, mode=mode
    ):
        direct = first_action(policy)
    np.testing.assert_allclose(generic, direct, atol=1e-4)  # same addition up to float rounding
    assert np.array_equal(first_action(policy), base)
    assert count_hooks(model) == 0
