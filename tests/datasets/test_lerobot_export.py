"""Demonstrations written with LeRobot's API read back frame for frame with LeRobot's reader (real simulator)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mistvla.harness.datasets.demos import collect_episode
from mistvla.harness.datasets.lerobot_export import DemoWriter, read_meta
from mistvla.harness.envs.libero import LiberoEnv
from mistvla.harness.envs.tasks import suite_object_names
from mistvla.policies.scripted.expert import PerturbationConfig, ScriptedExpert


@pytest.fixture(scope="module")
def stepped(tmp_path_factory):
    names = list(suite_object_names("libero_spatial"))
    env = LiberoEnv("libero_spatial", 0, cameras=(), privileged=True, max_steps=15)
    try:
        expert = ScriptedExpert(perturbation=PerturbationConfig(action_noise=0.3))
        frames, _success, pert = collect_episode(env, expert, 3, 0, 7, names, [])
        instruction = env.instruction
    finally:
        env.close()
    root = tmp_path_factory.mktemp("demos") / "ds"
    writer = DemoWriter(root, "mistvla/test", names)
    record = {"task_in_suite": 0, "init_state": 3, "seed": 0, "episode_seed": 7, "perturbation": pert}
    writer.add_episode(frames, instruction, record)
    writer.finalize({"split": {"by": "init_state", "train": [3], "val": []}})
    return root, frames, instruction, names


def test_round_trip_frame_for_frame(stepped):
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    root, frames, instruction, names = stepped
    ds = LeRobotDataset("mistvla/test", root=root)
    assert len(ds) == len(frames["action"]) == 15
    for t in (0, 7, 14):
        item = ds[t]
        for key in ("observation.state", "observation.environment_state", "action", "executed_action"):
            np.testing.assert_array_equal(item[key].numpy(), frames[key][t])
        assert item["task"] == instruction and int(item["init_state"]) == 3
    assert read_meta(root)["object_names"] == names
    assert json.loads((root / "meta/info.json").read_text())["splits"] == {"train": "0:1"}


def test_label_is_clean_action_executed_is_noisy(stepped):
    _, frames, _, _ = stepped
    diff = frames["executed_action"][:, :6] - frames["action"][:, :6]
    assert np.abs(diff).mean() > 0.05  # noise only on what was executed
    np.testing.assert_array_equal(frames["executed_action"][:, 6], frames["action"][:, 6])


def _tiny_frames(n: int) -> dict[str, np.ndarray]:
    return {
        "observation.state": np.zeros((n, 8), np.float32),
        "action": np.zeros((n, 7), np.float32),
        "executed_action": np.zeros((n, 7), np.float32),
    }


def test_splits_are_lerobot_episode_ranges(tmp_path):
    writer = DemoWriter(tmp_path / "ok", "mistvla/ok", [])
    for split in ("train", "train", "val"):
        writer.add_episode(
            _tiny_frames(2), "do it", {"task_in_suite": 0, "init_state": 0, "episode_seed": 0, "split": split}
        )
    root = writer.finalize({})
    assert json.loads((root / "meta/info.json").read_text())["splits"] == {"train": "0:2", "val": "2:3"}
    assert read_meta(root)["split_episodes"] == {"train": [0, 1], "val": [2]}
    bad = DemoWriter(tmp_path / "bad", "mistvla/bad", [])
    for split in ("val", "train"):
        bad.add_episode(
            _tiny_frames(2), "do it", {"task_in_suite": 0, "init_state": 0, "episode_seed": 0, "split": split}
        )
    with pytest.raises(ValueError, match="train first, then val"):
        bad.finalize({})
