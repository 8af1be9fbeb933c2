"""The image policy's pipeline on a tiny model and a tiny dataset: shards -> merge -> lerobot-train
(real LeRobot SmolVLA, augmentation on) -> resume -> ``smolvla_scratch`` policy -> action, hooks."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mistvla.harness.datasets.demo_shards import shard_path
from mistvla.harness.datasets.lerobot_export import DemoWriter, read_meta
from mistvla.harness.datasets.vision_training import VisionTrainConfig, train_vision
from mistvla.policies.registry import make_policy
from mistvla.policies.smolvla.scratch import check_inputs

TINY = {
    "text_hidden": 32, "text_layers": 2, "heads": 2, "kv_heads": 1, "head_dim": 16, "vision_hidden": 16,
    "vision_layers": 1, "image_size": 16, "patch_size": 8, "chunk_size": 4, "n_action_steps": 2, "num_steps": 2,
    "tokenizer_max_length": 16, "steps": 2, "batch_size": 2, "save_freq": 2, "num_workers": 0,
}  # fmt: skip
TASK = "put the bowl on the plate"
pytestmark = pytest.mark.slow  # two lerobot-train subprocesses: ~1-4 min on the shared cores


def _write_shard(root, index: int, init_states: list[int]) -> None:
    rng = np.random.default_rng(index)
    writer = DemoWriter(
        shard_path(root, index), "mistvla/tiny", ["bowl_1"], ["agentview", "robot0_eye_in_hand"], 16
    )
    for k in init_states:
        n = 6
        frames = {
            "observation.state": rng.normal(size=(n, 8)).astype(np.float32),
            "observation.environment_state": rng.normal(size=(n, 7)).astype(np.float32),
            "action": rng.uniform(-1, 1, (n, 7)).astype(np.float32),
            "executed_action": rng.uniform(-1, 1, (n, 7)).astype(np.float32),
            "observation.images.image": rng.integers(0, 256, (n, 16, 16, 3), dtype=np.uint8),
            "observation.images.image2": rng.integers(0, 256, (n, 16, 16, 3), dtype=np.uint8),
        }
        split = "val" if k >= 2 else "train"
        record = {"task_in_suite": 0, "init_state": k, "seed": 0, "episode_seed": k, "split": split}
        writer.add_episode(frames, TASK, record)
    writer.finalize({"split": {"by": "init_state"}, "shard": {"index": index, "complete": True}})


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("vision")
    _write_shard(tmp / "demos", 0, [0, 1])
    _write_shard(tmp / "demos", 1, [2])
    cfg = VisionTrainConfig(
        name="tiny", demos=[str(tmp / "demos")], output_dir=str(tmp / "{name}"), spec=TINY
    )
    return cfg, train_vision(cfg)


def test_trains_with_lerobot_on_train_split_and_resumes(trained):
    cfg, last = trained
    meta = read_meta(cfg.root / "dataset")
    assert meta["split_episodes"] == {"train": [0, 1], "val": [2]}
    state = last.parent / "training_state" / "training_step.json"
    assert json.loads(state.read_text())["step"] == 2
    train_cfg = json.loads((last / "train_config.json").read_text())
    assert train_cfg["dataset"]["episodes"] == [0, 1] and train_cfg["dataset"]["image_transforms"]["enable"]
    assert check_inputs(last) == [
        "observation.images.image",
        "observation.images.image2",
        "observation.state",
    ]
    train_vision(cfg, steps=4)  # the same command continues the run (the resumed run keeps its config)
    assert json.loads(state.read_text())["step"] >= 2


def test_policy_kind_reads_images_and_state_and_exposes_expert_hooks(trained):
    cfg, last = trained
    policy = make_policy("smolvla_scratch", checkpoint=str(last), vlm_path=str(cfg.root / "init" / "vlm"))
    assert policy.requirements.cameras == ("agentview", "robot0_eye_in_hand")
    rng = np.random.default_rng(0)
    obs = {
        "images": {c: rng.integers(0, 256, (16, 16, 3), dtype=np.uint8) for c in ("agentview", "robot0_eye_in_hand")},
        "proprio": {"eef_pos": np.zeros(3), "eef_quat": np.array([0.0, 0.0, 0.0, 1.0]), "eef_axis_angle": np.zeros(3),
                    "gripper_qpos": np.array([0.03, -0.03])},
    }  # fmt: skip
    policy.reset(TASK, seed=0)
    action = policy.select_action(obs)
    assert action.shape == (7,) and np.all(np.abs(action) <= 1)
    from mistvla.hooks.points import valid_names

    names = valid_names(policy.model)
    for point in (
        "llm.blocks.1.resid_post",
        "expert.blocks.1.resid_post",
        "expert.final_norm",
        "projector.out",
    ):
        assert point in names


def test_checkpoint_reading_object_poses_is_refused(tmp_path):
    (tmp_path / "config.json").write_text(
        json.dumps({"input_features": {"observation.environment_state": {}}})
    )
    with pytest.raises(ValueError, match="environment_state"):
        check_inputs(tmp_path)


def test_launcher_action_chunk_query_matches_lerobot(trained):
    import torch
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    from mistvla.policies.smolvla.train_launcher import column_query

    cfg, _ = trained
    ds = LeRobotDataset(
        "mistvla/tiny_demos", root=cfg.root / "dataset", delta_timestamps={"action": [0, 0.05, 0.1]}
    )
    for idx in (0, 5, len(ds) - 1):  # the last frames pad past the episode end
        query, _ = ds._get_query_indices(idx, int(ds[idx]["episode_index"]))
        assert torch.equal(column_query(ds, query)["action"], ds._query_hf_dataset(query)["action"])


def _tiny_obs(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "images": {c: rng.integers(0, 256, (16, 16, 3), dtype=np.uint8) for c in ("agentview", "robot0_eye_in_hand")},
        "proprio": {"eef_pos": np.zeros(3), "eef_quat": np.array([0.0, 0.0, 0.0, 1.0]), "eef_axis_angle": np.zeros(3),
                    "gripper_qpos": np.array([0.03, -0.03])},
    }  # fmt: skip


def test_shipped_checkpoint_acts_as_the_run_and_starts_the_next_stage(trained, tmp_path):
    from mistvla.harness.datasets.vision_checkpoints import copy_checkpoint
    from mistvla.harness.datasets.vision_training import ship_run
    from mistvla.harness.errors import ConfigError
    from mistvla.harness.typed import from_dict
    from mistvla.policies.smolvla.scratch import ScratchSpec

    cfg, last = trained
    shipped = ship_run(cfg, tmp_path / "shipped")
    assert not (shipped / "policy" / "train_config.json").exists()  # the resume-only file stays behind
    record = json.loads((shipped / "training.json").read_text())
    assert record["total_steps"] >= 2 and record["stages"][0]["train_episodes"] == 2
    actions = []
    for kwargs in (
        {"checkpoint": str(last), "vlm_path": str(cfg.root / "init" / "vlm")},
        {"checkpoint": str(shipped)},
    ):
        policy = make_policy("smolvla_scratch", noise_seed=0, **kwargs)
        policy.reset(TASK, seed=0)
        actions.append(policy.select_action(_tiny_obs()))
    np.testing.assert_array_equal(actions[0], actions[1])

    spec = from_dict(ScratchSpec, TINY, "spec")
    init = copy_checkpoint(shipped, tmp_path / "next" / "init", spec)
    config = json.loads((init / "policy" / "config.json").read_text())
    assert config["vlm_model_name"] == str((init / "vlm").resolve())
    assert (init / "policy" / "model.safetensors").read_bytes() == (
        shipped / "policy" / "model.safetensors"
    ).read_bytes()
    other = from_dict(ScratchSpec, {**TINY, "text_layers": 4}, "spec")
    with pytest.raises(ConfigError, match=r"init_from: .*text_layers=2"):
        copy_checkpoint(shipped, tmp_path / "other", other)
