"""``jacobian_online`` on a head whose Jacobian changes with the state, where the right answer is known.

The toy policy reads its action off the last position of one block through one of two matrices, chosen by
the sign of the state's first coordinate (a piecewise-linear head, as any ReLU network is locally). The
mean Jacobian's pinv columns (``jacobian``) are then selective on average only; each frame's own
(``jacobian_online``) are exact: the check must pass them 6/6 and the intervention must halve the riskiest
dimension in one step, with the others unchanged.
"""

from __future__ import annotations

import numpy as np
import pytest
from toy_heads import POINT, HeadPolicy

from mistvla.harness.errors import ConfigError
from mistvla.harness.interventions.base import InterventionConfig
from mistvla.harness.interventions.steer import RandomSteerIntervention, SteerIntervention
from mistvla.harness.risk.base import RiskSignal
from mistvla.harness.steering.check import dose_response, write_check
from mistvla.harness.steering.fit import fit_directions, steering_method
from mistvla.harness.steering.jacobian import jacobian_fit_data

H = 24
SwitchHeadPolicy = HeadPolicy


@pytest.fixture(scope="module")
def switch():
    rng = np.random.default_rng(5)
    W = rng.normal(size=(2, 7, H)) / np.sqrt(H)
    W[1, :6] = W[1, [3, 0, 5, 1, 2, 4]]  # the other piece moves the arm dimensions through other features
    frames = []
    for i in range(40):
        h = rng.normal(size=(3, H)).astype(np.float32)
        h[-1, 0] = 2.0 if i % 2 else -2.0
        frames.append(("task", {"h": h}))
    return SwitchHeadPolicy(W), frames


def _fit_and_check(policy, frames, out, method):
    fit_directions(jacobian_fit_data(policy, frames, POINT), out, method, "signed")
    result = dose_response(policy, frames, out, alphas=(0.25, 0.5, 1.0), fractions=(0.5,))
    return write_check(result, out / "check")


def test_online_directions_pass_where_the_mean_jacobian_fails(switch, tmp_path):
    policy, frames = switch
    fixed = _fit_and_check(policy, frames, tmp_path / "fixed", "jacobian")
    online = _fit_and_check(policy, frames, tmp_path / "online", "jacobian_online")
    assert online["n_pass"] == 6 and online["magnitude"]["n_pass"] == 6
    assert fixed["n_pass"] < 4, fixed["passes"]
    assert max(max(f) for f in online["signed"]["flips"]) == 0.0  # the gripper row is held fixed per frame
    assert steering_method("jacobian_online").online and not steering_method("jacobian").online


def _intervention(path, cls=SteerIntervention, **options):
    name = "steer" if cls is SteerIntervention else "random_steer"
    steer = cls(InterventionConfig.make(name, steering=str(path), **options), threshold=0.5)
    steer.reset(0)
    return steer


def _step(steer, policy, obs, dim):
    steer.gate(RiskSignal(0.9, [1.0 if j == dim else 0.0 for j in range(6)] + [0.0]))
    steer.prepare(policy, obs)
    with steer.around_policy(policy):
        action = policy.select_action(obs)
    steer.apply(action)
    return action


def test_online_steering_halves_the_riskiest_dimension_on_the_first_step(switch, tmp_path):
    """The exact a_d is read in the step's own Jacobian pass: no last action is needed, on either piece."""
    policy, frames = switch
    _fit_and_check(policy, frames, tmp_path / "online", "jacobian_online")
    steer = _intervention(tmp_path / "online", strength="action", fraction=0.5, max_shift=100.0)
    for _, obs in frames[:2]:  # one frame on each piece of the head
        free = policy.select_action(obs)
        d = int(np.argmax(np.abs(free[:6])))
        a = _step(steer, policy, obs, d)
        np.testing.assert_allclose(a[d], 0.5 * free[d], rtol=1e-4, atol=1e-5)
        others = [j for j in range(6) if j != d]
        np.testing.assert_allclose(a[others], free[others], atol=1e-4)
        assert a[6] == free[6]
    placebo = _intervention(tmp_path / "online", RandomSteerIntervention, strength="action", fraction=0.5)
    free = policy.select_action(frames[0][1])
    d = int(np.argmax(np.abs(free[:6])))
    moved = _step(placebo, policy, frames[0][1], d)
    assert abs(moved[d] - 0.5 * free[d]) > 1e-3  # the same shift in a random direction does not halve a_d


def test_ungated_steps_cost_no_jacobian(switch, tmp_path):
    policy, frames = switch
    _fit_and_check(policy, frames, tmp_path / "online", "jacobian_online")
    steer = _intervention(tmp_path / "online", strength="action", fraction=0.5)
    steer.gate(RiskSignal(0.1, [0.0] * 7))
    steer.prepare(policy, frames[0][1])
    assert steer._online is None
    with steer.around_policy(policy):
        policy.select_action(frames[0][1])


def test_an_online_set_needs_strength_action(switch, tmp_path):
    policy, frames = switch
    _fit_and_check(policy, frames, tmp_path / "online", "jacobian_online")
    with pytest.raises(
        ConfigError, match=r"^steering: a jacobian_online set steers in action units per step; set strength"
    ):
        _intervention(tmp_path / "online", strength="alpha")


TOWARD = np.array([0.6, 0.0, -0.8])  # the hazard is ahead and below


def _away_step(steer, policy, obs):
    steer.gate(RiskSignal(0.9, [0.6, 0.0, 0.8, 0.0, 0.0, 0.0, 0.0], TOWARD))
    steer.prepare(policy, obs)
    with steer.around_policy(policy):
        action = policy.select_action(obs)
    steer.apply(action)
    return action


@pytest.mark.parametrize("method", ["jacobian_online", "jacobian"])
def test_target_away_moves_the_translation_away_from_the_hazard_and_nothing_else(switch, tmp_path, method):
    """``target: away`` asks for ``-gain * direction`` on x, y, z; through exact pinv columns (each frame's
    own, or a fixed set's on a head that is linear) that is what the action does."""
    policy, frames = switch
    if method == "jacobian":  # a linear head (both pieces equal): the fixed set's columns are exact
        policy = SwitchHeadPolicy(np.stack([policy.W[0].numpy()] * 2))
    _fit_and_check(policy, frames, tmp_path / method, method)
    steer = _intervention(tmp_path / method, strength="action", target="away", gain=0.3, max_shift=100.0)
    for _, obs in frames[:2]:
        free = policy.select_action(obs)
        a = _away_step(steer, policy, obs)
        np.testing.assert_allclose(a[:3] - free[:3], -0.3 * TOWARD, atol=2e-4)
        np.testing.assert_allclose(a[3:6], free[3:6], atol=2e-4)
        assert a[6] == free[6]


def test_target_away_needs_action_strength():
    from mistvla.harness.interventions.steer import SteerConfig

    with pytest.raises(ValueError, match=r"^target: away asks for a change in action units"):
        SteerConfig(steering="x", target="away")
