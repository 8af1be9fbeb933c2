"""The honest steer check on synthetic linear heads, where the right answer is known (no simulator).

The toy policy reads its action off the last position of one block: arm = W[:6] h, gripper = sign(W[6] h).
The ``jacobian`` method (pinv of W, gripper logit held fixed) must pass 6/6 on the signed check and on the
proportional magnitude target; one direction shared by every dimension must fail; gripper flips are reported
on their own.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from toy_heads import POINT, HeadPolicy

from mistvla.harness.errors import ConfigError
from mistvla.harness.steering.check import dose_response, read_check, write_check
from mistvla.harness.steering.data import FitData
from mistvla.harness.steering.fit import fit_directions
from mistvla.harness.steering.jacobian import jacobian_fit_data
from mistvla.hooks import SteeringSpec

H = 24
LinearHeadPolicy = HeadPolicy


@pytest.fixture(scope="module")
def head():
    rng = np.random.default_rng(3)
    W = rng.normal(size=(7, H)) / np.sqrt(H)
    W[3:5] *= 0.25  # roll and pitch move 4x less, as in the policy's actions
    frames = [("task", {"h": rng.normal(size=(3, H)).astype(np.float32)}) for _ in range(40)]
    return LinearHeadPolicy(W), frames


def test_the_pinv_direction_passes_signed_and_proportional(head, tmp_path):
    policy, frames = head
    data = jacobian_fit_data(policy, frames, POINT)
    assert data.jacobians.shape == (40, 7, H)
    rec = fit_directions(data, tmp_path / "jac", "jacobian", "signed")
    assert rec["mode"] == "absolute" and rec["steer_positions"] == "last_prompt"
    result = dose_response(policy, frames, tmp_path / "jac", alphas=(0.5, 1.0, 2.0), fractions=(0.5, 1.0))
    summary = write_check(result, tmp_path / "jac" / "check")
    assert summary["n_pass"] == 6 and summary["passed"]
    assert summary["magnitude"]["n_pass"] == 6
    assert max(max(f) for f in summary["signed"]["flips"]) == 0.0  # the gripper logit is held fixed
    # the measured per-unit effect is the fit's 1/||pinv column||
    np.testing.assert_allclose(summary["effect_per_unit"], rec["data"]["effect_per_unit"], rtol=1e-3)
    assert read_check(tmp_path / "jac")["n_pass"] == 6


def test_a_shared_direction_fails(head, tmp_path):
    policy, frames = head
    v = np.linalg.pinv(policy.W.numpy())[:, :6].sum(axis=1)  # moves every arm dimension at once
    for d in range(6):
        SteeringSpec({POINT: -v / np.linalg.norm(v)}, mode="absolute", positions="last_prompt").save(
            tmp_path / "shared" / f"dim_{d}"
        )
    (tmp_path / "shared" / "fit.json").write_text(json.dumps({"method": "generic", "target": "signed"}))
    summary = dose_response(policy, frames, tmp_path / "shared", alphas=(0.5, 1.0, 2.0)).summary()
    assert summary["n_pass"] < 4 and not summary["passed"]


def test_gripper_flips_are_reported_apart_and_fail_the_dimension(head, tmp_path):
    policy, frames = head
    P = np.linalg.pinv(policy.W.numpy())
    for d in range(6):  # selective on the arm, but also drives the gripper logit hard
        v = -P[:, d] + 3.0 * P[:, 6] * (1 if d == 0 else 0)
        SteeringSpec({POINT: v / np.linalg.norm(v)}, mode="absolute", positions="last_prompt").save(
            tmp_path / "grip" / f"dim_{d}"
        )
    (tmp_path / "grip" / "fit.json").write_text(json.dumps({"method": "jacobian", "target": "signed"}))
    summary = dose_response(
        policy, frames, tmp_path / "grip", alphas=(1.0, 2.0, 4.0), fractions=None
    ).summary()
    assert summary["signed"]["flips"][0][-1] > 0.05 and not summary["passes"][0]
    assert summary["passes"][1:] == [True] * 5
    assert summary["selectivity"][0][6] == pytest.approx(summary["signed"]["flips"][0][-1])


def test_a_jacobian_where_the_action_does_not_read_or_beyond_the_model_is_refused(head):
    policy, frames = head
    with pytest.raises(ConfigError, match=r"^--position: the action of this policy is read at last_prompt"):
        jacobian_fit_data(policy, frames[:2], POINT, "mean")
    with pytest.raises(ConfigError, match=r"^--point: 'llm.blocks.7.resid_post' is not a hook point"):
        jacobian_fit_data(policy, frames[:2], "llm.blocks.7.resid_post")


def test_closed_loop_strength_halves_the_riskiest_dimension(head, tmp_path):
    """strength: action asks for -0.5 a_d; through a checked pinv direction a_d halves, the rest stay."""
    from mistvla.harness.interventions.base import InterventionConfig
    from mistvla.harness.interventions.steer import SteerIntervention
    from mistvla.harness.risk.base import RiskSignal

    policy, frames = head
    fit_directions(jacobian_fit_data(policy, frames, POINT), tmp_path / "jac", "jacobian", "signed")
    write_check(
        dose_response(policy, frames, tmp_path / "jac", alphas=(0.5, 4.0), fractions=None),
        tmp_path / "jac" / "check",
    )
    cfg = InterventionConfig.make("steer", steering=str(tmp_path / "jac"), strength="action", fraction=0.5)
    steer = SteerIntervention(cfg, threshold=0.5)
    steer.reset(0)
    obs = frames[0][1]
    free = policy.select_action(obs)
    d = int(np.argmax(np.abs(free[:6])))
    risky = RiskSignal(0.9, [1.0 if j == d else 0.0 for j in range(6)] + [0.0])
    acts = []
    for _ in range(3):  # the same observation: the estimate of the unsteered a_d stays right while steering
        steer.gate(risky)
        with steer.around_policy(policy):
            acts.append(policy.select_action(obs))
        steer.apply(acts[-1])
    np.testing.assert_allclose(acts[0], free, atol=1e-6)  # no last action yet: nothing to halve
    for a in acts[1:]:
        np.testing.assert_allclose(a[d], 0.5 * free[d], rtol=1e-3, atol=1e-5)
        others = [j for j in range(6) if j != d]
        np.testing.assert_allclose(a[others], free[others], atol=1e-4)


def test_a_method_refuses_a_target_it_does_not_take(tmp_path) -> None:
    """What a method accepts is declared on its registry entry, not tested by name in fit_directions."""
    from mistvla.harness.steering.fit import steering_method

    assert steering_method("jacobian").targets == ("signed",) and steering_method("jacobian").needs_frames
    assert steering_method("probe").mode == "relative" and steering_method("jacobian").mode == "absolute"
    data = FitData(np.zeros((4, 3), np.float32), np.zeros((4, 7), np.float32), None, {"point": "p"})
    with pytest.raises(ConfigError, match=r"^--target: the jacobian method takes signed, not 'magnitude'$"):
        fit_directions(data, tmp_path / "x", "jacobian", "magnitude")
