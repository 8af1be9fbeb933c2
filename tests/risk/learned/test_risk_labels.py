"""Labels from simulator events: horizons, censoring, the per-dimension rule, ledger agreement;
a scripted push down into the table in real LIBERO labels z."""

from __future__ import annotations

import numpy as np
import pytest

from mistvla.harness.errors import LabelError
from mistvla.harness.risk.learned.labels import (
    LabelSpec,
    collision_dims,
    episode_events,
    horizon_labels,
    label_episode,
)


def _record(**kw):
    base = {
        "episode_key": "e",
        "steps": 10,
        "success": False,
        "termination_reason": "collision",
        "n_collision_onsets": 1,
        "first_collision_step": 6,
    }
    return {**base, **kw}


def test_horizon_labels_are_exact_and_censored_windows_masked():
    y = horizon_labels(10, [6], censored=False, horizons=(1, 3))
    assert np.flatnonzero(y[:, 0]).tolist() == [6]
    assert np.flatnonzero(y[:, 1]).tolist() == [4, 5, 6]
    yc = horizon_labels(10, [], censored=True, horizons=(3,))
    assert yc[:, 0].tolist() == [0] * 8 + [-1, -1]
    # a known positive stays positive even when its window runs past the end
    assert horizon_labels(10, [9], censored=True, horizons=(3,))[9, 0] == 1


def test_timeout_is_an_event_at_the_end_and_censors_other_types():
    spec = LabelSpec(horizons=(2,), types=("collision", "timeout"))
    rec = _record(termination_reason="timeout", n_collision_onsets=0, first_collision_step=None)
    steps = {"n_collision_events": [0] * 10, "executed_action": np.zeros((10, 7))}
    lab = label_episode(rec, steps, spec)
    assert lab.y[:, 0, 0].tolist() == [0] * 9 + [-1]  # collision: unknown after the step limit
    assert lab.y[:, 0, 1].tolist() == [0] * 8 + [1, 1]  # timeout at the last executed action


def test_steps_disagreeing_with_the_ledger_summary_are_refused():
    rec = _record()  # the record says one onset at step 6 ...
    with pytest.raises(LabelError, match="collision onsets"):
        episode_events(rec, [0] * 10, LabelSpec())  # ... the steps none: a detector that never fired


def test_collision_dims_push_down_is_z_and_sweep_is_y_or_x():
    down = np.zeros((6, 7))
    down[:, 2] = -1.0
    assert collision_dims(down, 5).tolist() == [0, 0, 1, 0, 0, 0, 0]
    sweep = np.zeros((6, 7))
    sweep[:, 1] = 0.8
    sweep[:, 0] = -0.1
    assert collision_dims(sweep, 5).tolist() == [0, 1, 0, 0, 0, 0, 0]
    assert collision_dims(np.zeros((6, 7)), 5).sum() == 0  # holding still: no dimension to blame


def test_scripted_push_into_the_table_in_libero_labels_z(tmp_path):
    from mistvla.harness.envs.libero import LiberoEnv
    from mistvla.harness.interventions.base import InterventionConfig, make_intervention
    from mistvla.harness.results.identity import EpisodeId
    from mistvla.harness.risk.constant import ConstantConfig, ConstantRisk
    from mistvla.harness.run.episode import run_episode
    from mistvla.harness.run.plan import EpisodeSpec
    from mistvla.policies.simple import ReplayPolicy

    actions = np.tile(np.array([0, 0, -1.0, 0, 0, 0, -1.0], dtype=np.float32), (60, 1))
    env = LiberoEnv("libero_spatial", 0, cameras=(), max_steps=60)
    try:
        spec = EpisodeSpec(EpisodeId("replay", "none", "libero_spatial", 0, init_state=0, seed=0))
        res = run_episode(
            env,
            ReplayPolicy(actions),
            make_intervention(InterventionConfig.make("none"), None),
            ConstantRisk(ConstantConfig(0.0)),
            spec,
        )
    finally:
        env.close()
    rec = {**res.record, "episode_key": "push"}
    assert rec["collided"], rec
    lab = label_episode(rec, res.steps, LabelSpec(horizons=(5,), types=("collision",)))
    onset = lab.events["collision"][0]
    assert onset == rec["first_collision_step"]
    assert lab.dims[onset].tolist() == [0, 0, 1, 0, 0, 0, 0]
    assert lab.y[onset, 0, 0] == 1 and lab.y[onset - 5, 0, 0] == 0
