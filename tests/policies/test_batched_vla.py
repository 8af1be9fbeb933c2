"""Batched OpenVLA and SmolVLA (``select_actions_for``) against one episode at a time, tiny offline models.

Prompts of different lengths make padded batches. Tokens and actions agree; hidden states agree to
float32 rounding (a batched matrix product rounds differently from a batch of one, about 1e-7 here),
so they are compared with a tolerance. Steering inside ``steering_rows((i,))`` changes row i only.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pytest

from mistvla.hooks import CaptureSpec, SteeringSpec, steer
from mistvla.hooks.steering import steering_rows

TOL = 1e-5
OPENVLA_TASKS = [
    "put the bowl on the stove",
    "pick up the black bowl between the plate and the ramekin and place it on the plate",
    "open the top drawer",
]
SMOLVLA_TASKS = [
    "turn on the stove and put the moka pot on it",
    "open the drawer",
    "put the bowl on the plate",
]


def _assert_records_close(a, b):
    assert a.arrays.keys() == b.arrays.keys()
    for point, arrays in a.arrays.items():
        assert arrays.keys() == b.arrays[point].keys()
        for pos, x in arrays.items():
            np.testing.assert_allclose(b.arrays[point][pos], x, rtol=0, atol=TOL, err_msg=f"{point}/{pos}")


@pytest.fixture(scope="module")
def openvla(tmp_path_factory):
    from mistvla.policies.openvla.policy import OpenVLAPolicy
    from mistvla.policies.testing.tiny_llava import build_tiny_llava

    ckpt = build_tiny_llava(tmp_path_factory.mktemp("tiny_openvla_batch"), hidden_size=32, image_size=64)
    return OpenVLAPolicy(ckpt)


def _frame(seed):
    return {
        "images": {"agentview": np.random.default_rng(seed).integers(0, 255, (256, 256, 3), dtype=np.uint8)}
    }


def _openvla_forks(policy):
    forks = [policy] + [policy.fork() for _ in OPENVLA_TASKS[1:]]
    for f, task in zip(forks, OPENVLA_TASKS, strict=True):
        f.reset(task)
    return forks


def test_openvla_batch_equals_one_at_a_time_with_captures(openvla):
    spec = CaptureSpec(
        ("llm.blocks.2.resid_post", "llm.final_norm", "vision.blocks.0.resid_post"),
        ("last_prompt", "generated", "mean"),
    )
    openvla.set_capture(spec)
    try:
        forks = _openvla_forks(openvla)
        lengths = {len(f.vla.processor.tokenizer(f.prompt).input_ids) for f in forks}
        assert len(lengths) == 3  # three prompt lengths: a padded batch
        obs = [_frame(i) for i in range(3)]
        single = [
            (f.select_action(o), f.last_step["token_ids"].copy(), f.last_capture)
            for f, o in zip(forks, obs, strict=True)
        ]
        batched = type(openvla).select_actions_for(forks, obs)
        assert batched.shape == (3, 7) and batched.dtype == np.float32
        for (action, tokens, record), f, row in zip(single, forks, batched, strict=True):
            np.testing.assert_array_equal(row, action)
            np.testing.assert_array_equal(f.last_step["token_ids"], tokens)
            assert f.last_capture.meta["batch_row"] == forks.index(f)
            _assert_records_close(record, f.last_capture)
    finally:
        openvla.set_capture(None)


def test_openvla_steers_only_its_own_row(openvla):
    point = "llm.blocks.1.resid_post"
    d = openvla.model.config.text_config.hidden_size
    spec = SteeringSpec({point: np.random.default_rng(0).normal(size=d)}, alpha=2.0, mode="relative")
    forks = _openvla_forks(openvla)
    obs = [_frame(10 + i) for i in range(3)]
    plain = [f.select_action(o) for f, o in zip(forks, obs, strict=True)]
    with steer(openvla.hook_model(), spec):
        steered = forks[1].select_action(obs[1])
    assert not np.array_equal(steered, plain[1])
    with steering_rows((1,)), steer(openvla.hook_model(), spec):
        batched = type(openvla).select_actions_for(forks, obs)
    np.testing.assert_array_equal(batched, np.stack([plain[0], steered, plain[2]]))


@pytest.fixture(scope="module")
def smolvla(tmp_path_factory):
    from mistvla.policies.smolvla.policy import SmolVLAPolicy
    from mistvla.policies.testing.tiny_smolvla import TinySmolVLASpec, build_tiny_smolvla

    spec = TinySmolVLASpec(chunk_size=4, n_action_steps=2, num_steps=3)
    return SmolVLAPolicy(
        build_tiny_smolvla(tmp_path_factory.mktemp("tiny_smolvla_batch"), spec), noise_seed=0
    )


def _smol_obs(seed):
    rng = np.random.default_rng(seed)
    return {
        "images": {
            c: rng.integers(0, 256, (32, 32, 3), dtype=np.uint8) for c in ("agentview", "robot0_eye_in_hand")
        },
        "proprio": {
            "eef_pos": rng.normal(size=3),
            "eef_quat": np.array([0.0, 1.0, 0.0, 0.0]),
            "gripper_qpos": np.zeros(2),
        },
    }


def _smol_forks(policy):
    forks = [policy] + [policy.fork() for _ in SMOLVLA_TASKS[1:]]
    for i, (f, task) in enumerate(zip(forks, SMOLVLA_TASKS, strict=True)):
        f.reset(task, seed=i)
    return forks


def test_smolvla_batch_equals_one_at_a_time_over_chunks(smolvla):
    spec = CaptureSpec(
        ("llm.blocks.1.resid_post", "llm.final_norm", "expert.blocks.2.resid_post"),
        ("last_prompt", "mean", "generated"),
    )
    smolvla.set_capture(spec)
    steps = 5  # chunks of 2: the model runs at steps 0, 2, 4
    try:
        forks = _smol_forks(smolvla)
        single = []
        for i, f in enumerate(forks):  # each episode alone, start to end
            rows = []
            for k in range(steps):
                rows.append((f.select_action(_smol_obs(10 * i + k)), f.replanned, f.last_capture))
            single.append(rows)
        forks = _smol_forks(smolvla)
        for k in range(steps):
            actions = type(smolvla).select_actions_for(forks, [_smol_obs(10 * i + k) for i in range(3)])
            for i, f in enumerate(forks):
                action, replanned, record = single[i][k]
                np.testing.assert_allclose(actions[i], action, rtol=0, atol=TOL)
                assert f.replanned == replanned == (k % 2 == 0)
                _assert_records_close(record, f.last_capture)
    finally:
        smolvla.set_capture(None)


def test_smolvla_forks_keep_their_own_action_queue(smolvla):
    forks = _smol_forks(smolvla)
    alone = [np.stack([f.select_action(_smol_obs(k)) for k in range(3)]) for f in forks]
    forks = _smol_forks(smolvla)
    interleaved = np.stack([[f.select_action(_smol_obs(k)) for f in forks] for k in range(3)], axis=1)
    np.testing.assert_array_equal(interleaved, np.stack(alone))


def test_smolvla_steers_only_its_own_row(smolvla):
    point = "llm.blocks.1.resid_post"
    d = smolvla.hook_model().model.vlm_with_expert.config.text_config.hidden_size
    spec = SteeringSpec({point: np.random.default_rng(1).normal(size=d)}, alpha=3.0, mode="relative")
    obs = [_smol_obs(20 + i) for i in range(3)]
    plain = [f.select_action(o) for f, o in zip(_smol_forks(smolvla), obs, strict=True)]
    forks = _smol_forks(smolvla)
    with steer(smolvla.hook_model(), spec, arch="smolvla"):
        steered = forks[2].select_action(obs[2])
    assert np.abs(steered - plain[2]).max() > 1e-3
    forks = _smol_forks(smolvla)
    with steering_rows((2,)), steer(smolvla.hook_model(), spec, arch="smolvla"):
        batched = type(smolvla).select_actions_for(forks, obs)
    np.testing.assert_allclose(batched, np.stack([plain[0], plain[1], steered]), rtol=0, atol=TOL)
