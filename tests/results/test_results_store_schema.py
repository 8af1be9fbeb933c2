"""Episode/step schema validation, episode keys and the run manifest helpers."""

from __future__ import annotations

import numpy as np
import pytest
from test_results_store_helpers import CONFIG, make_record, make_steps

from mistvla.harness.results import manifest as rm
from mistvla.harness.results import validation as sch
from mistvla.harness.results.identity import EpisodeId


def test_valid_record_normalised() -> None:
    rec = sch.validate_episode(make_record(collisions=2, interventions=1))
    assert rec["env_kwargs"] == '{"camera_heights":128,"horizon":50}'
    assert rec["hidden_layers"] == [] and rec["video_path"] is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"termination_reason": "exploded"}, "termination_reason"),
        ({"success": False}, "success must be True exactly when"),
        ({"collided": True}, "collided must equal"),
        ({"first_collision_step": 4}, "first_collision_step must be set exactly"),
        ({"n_interventions": 2}, "first_intervention_step must be set exactly"),
        ({"steps": 60}, "steps=60 > max_steps=50"),
        ({"max_collision_force": -1.0}, "max_collision_force"),
        ({"success": 1}, "success must be bool"),
        ({"seed": 1.5}, "seed must be int"),
        ({"task": None}, "task is None"),
        ({"bogus": 1}, "unknown fields"),
    ],
)
def test_invalid_records_rejected(change: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        sch.validate_episode({**make_record(), **change})


def test_missing_field_named() -> None:
    rec = make_record()
    del rec["wall_time_s"]
    with pytest.raises(ValueError, match="missing fields \\['wall_time_s'\\]"):
        sch.validate_episode(rec)


def test_episode_keys_stable_distinct_and_file_safe() -> None:
    a = EpisodeId("smol_vla", "none", "libero_spatial", 1, 2, 3).key
    assert a == EpisodeId("smol_vla", "none", "libero_spatial", 1, 2, 3).key
    assert a != EpisodeId("smol-vla", "none", "libero_spatial", 1, 2, 3).key  # slugs alike, keys differ
    assert a != EpisodeId("smol_vla", "none", "libero_spatial", 1, 2, 3, repeat=1).key
    odd = EpisodeId("a/b c", "steer (k=2)", "x", 0, 0, 0).key
    assert "/" not in odd and " " not in odd
    rec = make_record(task=1, init=2, seed=3)
    assert EpisodeId.from_record(rec).key == EpisodeId("smolvla", "none", "libero_spatial", 1, 2, 3).key


def test_steps_table_from_rows_and_shape_errors() -> None:
    cols = make_steps(4)
    rows = [{name: values[i] for name, values in cols.items()} for i in range(4)]
    table = sch.steps_table(rows, 4, "run", "key")
    assert table.num_rows == 4 and table.column("intervention_active").to_pylist() == [
        False,
        True,
        False,
        False,
    ]
    with pytest.raises(ValueError, match="shape"):
        sch.steps_table({**cols, "raw_action": np.zeros((4, 6))}, 4, "run", "key")
    with pytest.raises(ValueError, match="missing columns \\['eef_pos'\\]"):
        sch.steps_table({k: v for k, v in cols.items() if k != "eef_pos"}, 4, "run", "key")
    with pytest.raises(ValueError, match="unknown columns \\['torque'\\]"):
        sch.steps_table({**cols, "torque": np.zeros(4)}, 4, "run", "key")


def test_config_diff_and_hash() -> None:
    assert rm.config_diff(CONFIG, dict(CONFIG)) == []
    changed = {**CONFIG, "policy": {"name": "openvla", "checkpoint": "tiny-random"}}
    assert rm.config_diff(CONFIG, changed) == ["policy.name"]
    assert rm.config_hash(CONFIG) == rm.config_hash({**CONFIG, "seeds": (0, 1)})
    assert rm.config_hash(CONFIG) != rm.config_hash(changed)


def test_git_info_of_this_checkout_and_outside_git(tmp_path) -> None:
    info = rm.git_info()
    assert info["commit"] is None or len(info["commit"]) == 40
    assert rm.git_info(tmp_path) == {"commit": None, "branch": None, "dirty": None}
