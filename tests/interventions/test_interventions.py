"""Interventions act exactly as specified, step by step."""

import numpy as np
import pytest

from mistvla.harness.interventions.base import InterventionConfig, make_intervention
from mistvla.harness.risk.base import RiskSignal

RAW = np.array([0.4, -0.2, 0.6, 0.1, -0.3, 0.2, 1.0], dtype=np.float32)


def drive(intervention, scores, per_dim=None, raw=RAW):
    intervention.reset(seed=0)
    out = []
    for s in scores:
        intervention.gate(RiskSignal(s, per_dim))
        out.append(intervention.apply(raw))
    return out


def test_none_never_acts():
    out = drive(make_intervention(InterventionConfig.make("none"), None), [0.0, 1.0, 5.0])
    assert [o.active for o in out] == [False] * 3
    assert all(np.array_equal(o.action, RAW) for o in out)


def test_stop_ends_the_episode_holding_pose_and_gripper():
    stop = make_intervention(InterventionConfig.make("stop"), threshold=0.5)
    out = drive(stop, [0.1, 0.49, 0.5])
    assert [o.active for o in out] == [False, False, True]
    assert [o.stop_episode for o in out] == [False, False, True]
    np.testing.assert_array_equal(out[2].action, [0, 0, 0, 0, 0, 0, 1.0])  # gripper kept closed
    assert stop.onsets == 1 and stop.first_step == 2


def test_stop_keeps_the_gripper_command_from_before_the_halt():
    stop = make_intervention(InterventionConfig.make("stop"), threshold=0.5)
    stop.reset(seed=0)
    stop.gate(RiskSignal(0.0))
    stop.apply(np.r_[RAW[:6], -1.0])  # gripper open before the halt
    stop.gate(RiskSignal(0.9))
    assert stop.apply(RAW).action[6] == -1.0


def test_stop_with_hold_holds_n_steps_then_resumes_and_rearms_below_threshold():
    stop = make_intervention(InterventionConfig.make("stop", hold_steps=2), threshold=0.5)
    out = drive(stop, [0.9, 0.9, 0.9, 0.9, 0.1, 0.8, 0.8, 0.8])
    assert [o.active for o in out] == [True, True, False, False, False, True, True, False]
    assert not any(o.stop_episode for o in out)
    assert np.array_equal(out[2].action, RAW)  # resumed
    assert stop.onsets == 2 and stop.active_steps == 4


def test_slow_scales_motion_not_gripper_only_while_risky():
    slow = make_intervention(InterventionConfig.make("slow", factor=0.25), threshold=0.5)
    out = drive(slow, [0.2, 0.7])
    np.testing.assert_array_equal(out[0].action, RAW)
    np.testing.assert_allclose(out[1].action, np.r_[RAW[:6] * 0.25, RAW[6]])


def test_damp_scales_only_the_riskiest_dimension():
    damp = make_intervention(InterventionConfig.make("damp", factor=0.1), threshold=0.5)
    per_dim = np.array([0.1, 0.2, 0.9, 0.0, 0.3, 0.0, 5.0])  # gripper risk is never picked
    out = drive(damp, [0.8], per_dim)
    expected = RAW.copy()
    expected[2] *= 0.1
    np.testing.assert_allclose(out[0].action, expected)


def test_damp_without_per_dimension_risk_is_an_error():
    damp = make_intervention(InterventionConfig.make("damp"), threshold=0.5)
    with pytest.raises(ValueError, match="per-dimension"):
        drive(damp, [0.8], None)


def test_gated_interventions_need_a_threshold():
    with pytest.raises(ValueError, match="needs a threshold"):
        make_intervention(InterventionConfig.make("slow"), threshold=None)


def test_onsets_count_crossings_not_steps():
    slow = make_intervention(InterventionConfig.make("slow"), threshold=0.5)
    drive(slow, [0.6, 0.7, 0.1, 0.9, 0.2, 0.2])
    assert slow.onsets == 2 and slow.active_steps == 3 and slow.first_step == 0
