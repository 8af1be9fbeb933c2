"""In-pass gating: a hidden-state risk read at block 1 of a tiny OpenVLA gates steering in the same forward pass."""

from __future__ import annotations

import numpy as np
import pytest

from mistvla.harness.errors import ConfigError
from mistvla.harness.interventions.base import InterventionConfig, make_intervention
from mistvla.harness.interventions.in_pass import InPassGate, check_order
from mistvla.harness.risk.base import RiskSignal
from mistvla.hooks import CaptureSpec, SteeringSpec, count_hooks

POINT = "llm.blocks.1.resid_post"


class FixedHiddenRisk:
    """A hidden-state risk source's contract (point, position, feature, risk) with a set score."""

    point, position, feature = POINT, "last_prompt", f"{POINT}__last_prompt"

    def __init__(self, score: float) -> None:
        self.score, self.seen = score, []

    def risk(self, obs):
        self.seen.append(obs["hidden"][self.feature])
        return RiskSignal(self.score, np.array([0, 0, 1.0, 0, 0, 0, 0]) * self.score)


def test_risk_read_before_steering_and_steering_only_when_gated(tmp_path):
    from mistvla.policies.openvla.policy import OpenVLAPolicy
    from mistvla.policies.testing.tiny_llava import build_tiny_llava

    policy = OpenVLAPolicy(
        build_tiny_llava(tmp_path / "ckpt", hidden_size=64, num_layers=2),
        unnorm_key="libero_spatial_no_noops",
        capture=CaptureSpec((POINT,), ("last_prompt",)),
    )
    rng = np.random.default_rng(0)
    for d in range(6):
        SteeringSpec({POINT: rng.standard_normal(64)}).save(tmp_path / "dirs" / f"dim_{d}")
    obs = {"images": {"agentview": rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)}, "proprio": {}}
    policy.reset("pick up the black bowl", seed=0)
    base = policy.select_action(obs)
    h0 = policy.last_capture.arrays[POINT]["last_prompt"]
    steer = make_intervention(
        InterventionConfig.make("steer", steering=str(tmp_path / "dirs"), alpha=4.0), threshold=0.5
    )
    for score, changed in ((0.1, False), (0.9, True)):
        source = FixedHiddenRisk(score)
        steer.reset(seed=0)
        gate = InPassGate(policy, steer, source)
        with gate:
            action = policy.select_action(obs)
        assert count_hooks(policy.hook_model()) == 0
        assert len(source.seen) == 1 and gate.risk.score == score  # scored once, on the prefill
        np.testing.assert_allclose(source.seen[0], h0, rtol=1e-5, atol=1e-5)  # the unsteered state
        assert steer.active is changed and (steer.dim == 2)
        assert (not np.array_equal(action, base)) is changed
        if changed:  # the stored capture at the steered point is the steered state
            assert not np.allclose(policy.last_capture.arrays[POINT]["last_prompt"], h0)


def test_steering_before_the_risk_point_is_refused():
    check_order("llm.blocks.3.resid_post", ["llm.blocks.3.resid_post", "llm.blocks.5.resid_post"])
    with pytest.raises(ConfigError, match="later block"):
        check_order("llm.blocks.3.resid_post", ["llm.blocks.2.resid_post"])
