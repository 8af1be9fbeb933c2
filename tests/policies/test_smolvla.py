"""SmolVLA adapter on a tiny random SmolVLA built offline and loaded like a real checkpoint."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"  # before huggingface_hub is imported anywhere

import socket

import numpy as np
import pytest
import torch

from mistvla.policies.registry import make_policy
from mistvla.policies.smolvla.observations import quat_xyzw_to_axis_angle_lerobot
from mistvla.policies.smolvla.policy import SmolVLAPolicy
from mistvla.policies.testing.tiny_smolvla import SPECIAL_TOKENS, TinySmolVLASpec, build_tiny_smolvla

SPEC = TinySmolVLASpec(chunk_size=4, n_action_steps=2, num_steps=2)
TASK = "put the bowl on the stove"


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory: pytest.TempPathFactory):
    return build_tiny_smolvla(tmp_path_factory.mktemp("tiny_smolvla"), SPEC)


def raw_frames(seed: int = 0) -> dict[str, np.ndarray]:
    """Frames as robosuite renders them (bottom row first)."""
    rng = np.random.default_rng(seed)
    return {c: rng.integers(0, 256, (32, 32, 3), dtype=np.uint8) for c in ("agentview", "robot0_eye_in_hand")}


PROPRIO = {
    "eef_pos": np.array([-0.2, 0.05, 1.1]),
    "eef_quat": np.array([0.998, 0.02, -0.05, -0.03]),  # w < 0: LeRobot's axis-angle is not canonical
    "eef_axis_angle": np.zeros(3),
    "gripper_qpos": np.array([0.039, -0.039]),
}


def env_obs(seed: int = 0) -> dict:
    """mistvla's env convention: frames flipped vertically (right way up)."""
    return {
        "images": {c: np.ascontiguousarray(f[::-1]) for c, f in raw_frames(seed).items()},
        "proprio": PROPRIO,
    }


def test_tiny_vlm_dir_loads_like_smolvlm(ckpt):
    from transformers import AutoConfig, AutoProcessor

    vlm = ckpt.parent / "vlm"
    assert AutoConfig.from_pretrained(vlm).model_type == "smolvlm"
    proc = AutoProcessor.from_pretrained(vlm)
    assert type(proc).__name__ == "SmolVLMProcessor"
    tok = proc.tokenizer
    for attr, token in SPECIAL_TOKENS.items():
        assert getattr(tok, attr) == token
        assert tok.convert_tokens_to_ids(token) != tok.unk_token_id
    assert tok.fake_image_token_id != tok.global_image_token_id
    assert tok.convert_tokens_to_ids("<row_6_col_6>") != tok.unk_token_id
    assert tok.decode(tok(TASK)["input_ids"]) == TASK


def test_loads_without_network_and_returns_valid_action(ckpt, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted while loading SmolVLA")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    policy = make_policy("smolvla", pretrained_path=ckpt, noise_seed=0)
    assert isinstance(policy, SmolVLAPolicy)
    assert policy.requirements.cameras == ("agentview", "robot0_eye_in_hand")
    assert policy.requirements.image_size == 32
    policy.reset(TASK)
    action = policy.select_action(env_obs())
    assert action.shape == (7,) and action.dtype == np.float32
    assert np.all(np.isfinite(action)) and np.all(np.abs(action) <= 1.0)
    assert policy.hook_model() is policy.model


def test_action_queue_respects_n_action_steps_and_reset_clears_it(ckpt):
    policy = SmolVLAPolicy(ckpt, noise_seed=0)
    policy.reset(TASK)
    pattern = []
    for _ in range(5):
        policy.select_action(env_obs())
        pattern.append((policy.replanned, policy.queued_actions()))
    assert pattern == [(True, 1), (False, 0), (True, 1), (False, 0), (True, 1)]
    policy.reset(TASK)
    assert policy.queued_actions() == 0
    policy.select_action(env_obs())
    assert policy.replanned

    one = SmolVLAPolicy(ckpt, noise_seed=0, n_action_steps=1)
    one.reset(TASK)
    flags = []
    for _ in range(3):
        one.select_action(env_obs())
        flags.append(one.replanned)
    assert flags == [True, True, True]
    with pytest.raises(ValueError, match="n_action_steps"):
        SmolVLAPolicy(ckpt, n_action_steps=SPEC.chunk_size + 1)


def test_same_seed_same_actions_other_seed_other_actions(ckpt):
    policy = SmolVLAPolicy(ckpt, noise_seed=0)

    def episode(seed: int) -> np.ndarray:
        policy.reset(TASK, seed=seed)
        return np.stack([policy.select_action(env_obs(k)) for k in range(3)])

    a, b, c = episode(1), episode(1), episode(2)
    assert np.array_equal(a, b)
    assert not np.allclose(a, c)


def test_matches_lerobot_libero_pipeline_bit_for_bit(ckpt):
    """Adapter(env obs) == LeRobot's own eval path (raw frames -> LiberoProcessorStep -> processors)."""
    from lerobot.envs.utils import preprocess_observation
    from lerobot.processor import PolicyProcessorPipeline
    from lerobot.processor.env_processor import LiberoProcessorStep

    policy = SmolVLAPolicy(ckpt, noise_seed=0, clip_actions=False)
    policy.reset(TASK, seed=5)
    ours = policy.select_action(env_obs())

    raw = raw_frames()
    lerobot_obs = preprocess_observation(
        {
            "pixels": {"image": raw["agentview"], "image2": raw["robot0_eye_in_hand"]},
            "robot_state": {
                "eef": {"pos": PROPRIO["eef_pos"][None], "quat": PROPRIO["eef_quat"][None]},
                "gripper": {"qpos": PROPRIO["gripper_qpos"][None]},
            },
        }
    )
    lerobot_obs["task"] = [TASK]
    env_pre = PolicyProcessorPipeline(steps=[LiberoProcessorStep()])  # as make_env_pre_post_processors
    batch = policy.preprocessor(env_pre(lerobot_obs))
    policy.model.reset()
    noise = torch.randn((1, SPEC.chunk_size, 16), generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        theirs = policy.postprocessor(policy.model.select_action(batch, noise=noise))
    assert np.array_equal(ours, theirs.numpy().reshape(-1).astype(np.float32))


def test_axis_angle_matches_lerobot_exactly():
    from lerobot.processor.env_processor import LiberoProcessorStep

    rng = np.random.default_rng(0)
    q = rng.normal(size=(64, 4))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    q[0] = [0, 0, 0, 1]
    expected = LiberoProcessorStep()._quat2axisangle(torch.as_tensor(q))
    assert torch.equal(quat_xyzw_to_axis_angle_lerobot(q), expected)
    assert (q[:, 3] < 0).any()  # the non-canonical branch is exercised


def test_mismatched_features_fail_clearly(ckpt):
    with pytest.raises(ValueError, match="does not read"):
        SmolVLAPolicy(
            ckpt,
            camera_map={
                "agentview": "observation.images.front",
                "robot0_eye_in_hand": "observation.images.image2",
            },
        )
    with pytest.raises(ValueError, match="does not provide"):
        SmolVLAPolicy(ckpt, camera_map={"agentview": "observation.images.image"})
    with pytest.raises(ValueError, match="state key"):
        SmolVLAPolicy(ckpt, state_key="observation.joints")
    with pytest.raises(FileNotFoundError):
        SmolVLAPolicy(ckpt.parent / "vlm")
    policy = SmolVLAPolicy(ckpt)
    with pytest.raises(RuntimeError, match="reset"):
        policy.select_action(env_obs())
    policy.reset(TASK)
    obs = env_obs()
    del obs["images"]["robot0_eye_in_hand"]
    with pytest.raises(KeyError, match="robot0_eye_in_hand"):
        policy.select_action(obs)
    obs = env_obs()
    obs["proprio"] = {k: v for k, v in PROPRIO.items() if k != "eef_quat"}
    with pytest.raises(KeyError, match="eef_quat"):
        policy.select_action(obs)


def test_vlm_path_replaces_a_hub_vlm_id_offline(ckpt, tmp_path, monkeypatch):
    """A real checkpoint names its VLM by hub id; vlm_path points config and tokenizer at a local copy."""
    import json
    import shutil

    hub_id = "HuggingFaceTB/SmolVLM2-500M-Video-Instruct"
    real = tmp_path / "policy"
    shutil.copytree(ckpt, real)
    for name, key in (("config.json", "vlm_model_name"), ("policy_preprocessor.json", None)):
        data = json.loads((real / name).read_text())
        if key:
            data[key] = hub_id
        else:
            for step in data["steps"]:
                if step["registry_name"] == "tokenizer_processor":
                    step["config"]["tokenizer_name"] = hub_id
        (real / name).write_text(json.dumps(data))

    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    policy = SmolVLAPolicy(real, vlm_path=ckpt.parent / "vlm", noise_seed=0)
    assert policy.config.vlm_model_name == str(ckpt.parent / "vlm")
    policy.reset(TASK, seed=3)
    reference = SmolVLAPolicy(ckpt, noise_seed=0)
    reference.reset(TASK, seed=3)
    assert np.array_equal(policy.select_action(env_obs()), reference.select_action(env_obs()))
    with pytest.raises(OSError, match="pass vlm_path"):  # the hub id cannot be resolved offline
        SmolVLAPolicy(real)
