"""The shipped reference checkpoint loads, matches its recorded hashes, never trained on evaluated init states,
and acts deterministically."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from mistvla.policies.reference.checkpoint import verify_checkpoint
from mistvla.policies.reference.policy import ReferencePolicy

ARTIFACT = Path(__file__).resolve().parents[2] / "experiments/artifacts/reference/libero_spatial"
EVALUATED = set(range(40, 50))  # eval_libero_spatial.yaml and every calibration set (42-49) draw from these


def test_shipped_checkpoint_hashes_and_split():
    manifest = verify_checkpoint(ARTIFACT)
    assert set(manifest["sha256"]) >= {"model.safetensors", "config.json", "split.json"}
    config = json.loads((ARTIFACT / "config.json").read_text())
    assert len(config["dataset"]["sha256"]) == 64 and config["dataset"]["suite"] == "libero_spatial"
    split = json.loads((ARTIFACT / "split.json").read_text())
    assert split["by"] == "init_state"
    assert not (set(split["train"]) | set(split["val"])) & EVALUATED


def test_shipped_checkpoint_acts_deterministically():
    a, b = ReferencePolicy(ARTIFACT), ReferencePolicy(ARTIFACT)
    instruction = "pick up the black bowl between the plate and the ramekin and place it on the plate"
    rng = np.random.default_rng(0)
    names = a.ckpt.object_names
    obs = {
        "proprio": {"eef_pos": np.array([-0.2, 0.0, 1.17]), "eef_axis_angle": np.array([3.14, 0.0, 0.09]),
                    "gripper_qpos": np.array([0.039, -0.039])},
        "privileged": {n: np.r_[rng.normal(0, 0.1, 3) + np.array([0, 0, 0.9]), 0, 0, 0, 1.0] for n in names},
    }  # fmt: skip
    a.reset(instruction, seed=0)
    b.reset(instruction, seed=0)
    first = a.select_action(obs)
    np.testing.assert_array_equal(first, b.select_action(obs))
    np.testing.assert_array_equal(first, a.select_action(obs))
    assert first.shape == (7,) and np.all(np.abs(first) <= 1.0)
