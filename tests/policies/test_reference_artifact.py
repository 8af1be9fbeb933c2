"""Every shipped reference checkpoint loads, matches its recorded hashes, never trained on evaluated init
states, and acts deterministically."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mistvla.harness.envs.tasks import get_task
from mistvla.policies.reference.checkpoint import verify_checkpoint
from mistvla.policies.reference.policy import ReferencePolicy

SHIPPED = sorted((Path(__file__).resolve().parents[2] / "experiments/artifacts/reference").iterdir())
EVALUATED = set(range(40, 50))  # eval_libero_spatial.yaml and every calibration set (42-49) draw from these


def test_the_suites_have_checkpoints():
    assert {"libero_spatial", "libero_object"} <= {p.name for p in SHIPPED}


@pytest.fixture(params=SHIPPED, ids=lambda p: p.name)
def artifact(request) -> Path:
    return request.param


def test_shipped_checkpoint_hashes_and_split(artifact):
    manifest = verify_checkpoint(artifact)
    assert set(manifest["sha256"]) >= {"model.safetensors", "config.json", "split.json"}
    config = json.loads((artifact / "config.json").read_text())
    assert len(config["dataset"]["sha256"]) == 64 and artifact.name.startswith(config["dataset"]["suite"])
    split = json.loads((artifact / "split.json").read_text())
    assert split["by"] == "init_state"
    assert not (set(split["train"]) | set(split["val"])) & EVALUATED


def test_shipped_checkpoint_acts_deterministically(artifact):
    a, b = ReferencePolicy(artifact), ReferencePolicy(artifact)
    suite = json.loads((artifact / "config.json").read_text())["dataset"]["suite"]
    instruction = get_task(suite, 0).instruction
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
    np.testing.assert_array_equal(a.select_action(obs), b.select_action(obs))
    assert first.shape == (7,) and np.all(np.abs(first) <= 1.0)
