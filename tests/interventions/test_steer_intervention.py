"""The steer and random_steer interventions act through the hooks of a (tiny) OpenVLA."""

from __future__ import annotations

import numpy as np
import pytest

from mistvla.harness.interventions.base import InterventionConfig, make_intervention
from mistvla.harness.risk.base import RiskSignal
from mistvla.hooks import SteeringSpec, count_hooks

POINT = "llm.blocks.1.resid_post"


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from mistvla.policies.openvla.policy import OpenVLAPolicy
    from mistvla.policies.testing.tiny_llava import build_tiny_llava

    tmp = tmp_path_factory.mktemp("steer")
    policy = OpenVLAPolicy(
        build_tiny_llava(tmp / "ckpt", hidden_size=64, num_layers=2), unnorm_key="libero_spatial_no_noops"
    )
    rng = np.random.default_rng(0)
    for d in range(6):
        SteeringSpec({POINT: rng.standard_normal(64)}, positions="all").save(tmp / "specs" / f"dim_{d}")
    obs = {"images": {"agentview": rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)}, "proprio": {}}
    policy.reset("pick up the black bowl")
    return policy, tmp / "specs", obs


def act(policy, intervention, obs, score):
    per_dim = np.array([0.1, 0.9, 0.2, 0.0, 0.0, 0.0, 0.0])
    intervention.reset(seed=0)
    intervention.gate(RiskSignal(score, per_dim))
    with intervention.around_policy(policy):
        action = policy.select_action(obs)
    assert count_hooks(policy.hook_model()) == 0
    return intervention.apply(action).action


def test_steer_changes_the_action_only_while_active(setup):
    policy, specs, obs = setup
    base = policy.select_action(obs)
    steer = make_intervention(InterventionConfig.make("steer", steering=str(specs), alpha=4.0), threshold=0.5)
    quiet = act(policy, steer, obs, score=0.1)
    np.testing.assert_array_equal(quiet, base)
    steered = act(policy, steer, obs, score=0.8)
    assert steer.dim == 1  # the riskiest motion dimension picks the spec
    assert not np.array_equal(steered, base)


def test_random_steer_has_the_same_gate_and_another_direction(setup):
    policy, specs, obs = setup
    cfg = dict(steering=str(specs), alpha=4.0)
    steer = make_intervention(InterventionConfig.make("steer", **cfg), threshold=0.5)
    rand = make_intervention(InterventionConfig.make("random_steer", **cfg), threshold=0.5)
    a, b = act(policy, steer, obs, 0.8), act(policy, rand, obs, 0.8)
    assert rand.active and steer.active
    assert not np.array_equal(a, b)
    spec_s, spec_r = steer._spec_for(1), rand._spec_for(1)
    np.testing.assert_allclose(
        np.linalg.norm(spec_r.vectors[POINT]), np.linalg.norm(spec_s.vectors[POINT]), rtol=1e-5
    )
    assert spec_r.alpha == spec_s.alpha and spec_r.mode == "relative"
