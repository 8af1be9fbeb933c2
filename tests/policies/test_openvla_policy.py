"""OpenVLAPolicy on a tiny random Llava checkpoint, loaded through the same Auto-class path as OpenVLA."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from mistvla.hooks import detect_arch
from mistvla.policies.base import HookedPolicy
from mistvla.policies.openvla.actions import bin_centers
from mistvla.policies.openvla.loading import build_inputs, greedy_decode
from mistvla.policies.openvla.policy import OpenVLAPolicy
from mistvla.policies.openvla.preprocess import preprocess_image
from mistvla.policies.testing.tiny_llava import build_tiny_llava


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return build_tiny_llava(tmp_path_factory.mktemp("tiny_openvla"))


@pytest.fixture(scope="module")
def policy(ckpt):
    p = OpenVLAPolicy(ckpt, unnorm_key="libero_spatial")
    p.reset("Pick up the black bowl and place it on the plate")
    return p


def _obs(seed: int) -> dict:
    img = np.random.default_rng(seed).integers(0, 255, (256, 256, 3), dtype=np.uint8)
    return {"images": {"agentview": img}, "proprio": {}}


def test_loads_through_auto_classes(policy):
    assert type(policy.model).__name__ == "LlavaForConditionalGeneration"
    assert policy.vla.family == "llava" and policy.vla.dtype == torch.float32
    assert policy.unnorm_key == "libero_spatial_no_noops"  # run_libero_eval's "_no_noops" fallback
    assert policy.requirements.cameras == ("agentview",) and policy.requirements.image_size == 256
    assert isinstance(policy, HookedPolicy) and policy.hook_model() is policy.model
    assert detect_arch(policy.hook_model()) == "llava"


def test_unknown_unnorm_key_lists_available(ckpt):
    with pytest.raises(KeyError, match="available: libero_spatial_no_noops"):
        OpenVLAPolicy(ckpt, unnorm_key="libero_goal")


def test_unsupported_model_type(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(ValueError, match="openvla, llava"):
        OpenVLAPolicy(tmp_path)


def test_prompt_and_inputs(policy):
    assert (
        policy.prompt
        == "In: What action should the robot take to pick up the black bowl and place it on the plate?\nOut:"
    )
    vla = policy.vla
    inputs = build_inputs(vla, policy.prompt, preprocess_image(_obs(0)["images"]["agentview"]))
    ids = inputs["input_ids"][0]
    tok = vla.processor.tokenizer
    n_img = policy.model.config.image_seq_length
    assert ids[0] == tok.bos_token_id  # <s>, then the image, then the text (Prismatic's layout)
    assert (ids[1 : 1 + n_img] == policy.model.config.image_token_index).all()
    assert ids[-1] == vla.empty_token_id and ids[-2] != vla.empty_token_id  # "▁" appended exactly once
    text = tok.decode(ids[1 + n_img : -1])
    assert text.strip() == policy.prompt.strip()
    assert inputs["attention_mask"].shape == inputs["input_ids"].shape
    assert inputs["pixel_values"].dtype == vla.dtype


def test_greedy_decode_equals_generate(policy):
    inputs = build_inputs(policy.vla, policy.prompt, preprocess_image(_obs(1)["images"]["agentview"]))
    ours = greedy_decode(policy.model, inputs, 7)
    with torch.inference_mode():
        ref = policy.model.generate(**inputs, max_new_tokens=7, min_new_tokens=7, do_sample=False)
    assert torch.equal(ours, ref[:, -7:])


def test_select_action_contract(policy):
    stats = policy.action_stats
    seen = set()
    for seed in range(6):
        a = policy.select_action(_obs(seed))
        assert a.shape == (7,) and a.dtype == np.float32
        assert a[6] in (-1.0, 1.0)
        assert np.all(a[:6] >= np.array(stats["q01"][:6]) - 1e-6)
        assert np.all(a[:6] <= np.array(stats["q99"][:6]) + 1e-6)
        seen.add(tuple(policy.last_step["token_ids"].tolist()))
        # the action is the documented function of the decoded tokens
        idx = np.clip(policy.vla.vocab_size - policy.last_step["token_ids"] - 1, 0, 254)
        norm = bin_centers()[idx]
        q01, q99 = np.array(stats["q01"]), np.array(stats["q99"])
        np.testing.assert_allclose(a[:6], (0.5 * (norm + 1) * (q99 - q01) + q01)[:6], rtol=1e-6)
        assert a[6] == -np.sign(2 * norm[6] - 1)
    assert len(seen) > 1  # a random model still reads its input


def test_deterministic(policy):
    a1 = policy.select_action(_obs(7))
    t1 = policy.last_step["token_ids"].copy()
    a2 = policy.select_action(_obs(7))
    np.testing.assert_array_equal(a1, a2)
    np.testing.assert_array_equal(t1, policy.last_step["token_ids"])


def test_mirror_flag_changes_what_the_model_sees(policy):
    obs = _obs(3)
    mirrored = policy.preprocess(obs)
    np.testing.assert_array_equal(
        mirrored, preprocess_image(obs["images"]["agentview"][:, ::-1], mirror=False)
    )
    policy.mirror_image = False
    try:
        assert not np.array_equal(policy.preprocess(obs), mirrored)
    finally:
        policy.mirror_image = True


def test_reset_required(ckpt):
    p = OpenVLAPolicy(ckpt)  # one statistics key: chosen without unnorm_key
    with pytest.raises(RuntimeError, match="reset"):
        p.select_action(_obs(0))
