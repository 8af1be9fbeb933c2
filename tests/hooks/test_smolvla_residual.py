"""SmolVLA residual stream from submodule hooks: exact reconstruction, steering, no leaked hooks."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"

import numpy as np
import pytest
import torch

from mistvla.hooks.arch import smolvla_points
from mistvla.hooks.arch.smolvla_residual import (
    SmolVLAResidualCapture,
    SmolVLAResidualSteer,
    register_resid_post,
    resid_post_block,
    resid_post_names,
)
from mistvla.hooks.points import detect_arch, resolve, valid_names
from mistvla.hooks.session import count_hooks
from mistvla.policies.smolvla.policy import SmolVLAPolicy
from mistvla.policies.testing.tiny_smolvla import TinySmolVLASpec, build_tiny_smolvla

TASK = "open the middle drawer of the cabinet"
NUM_STEPS = 3
LAYERS = 4


def _build(tmp_path_factory: pytest.TempPathFactory, expert_layers: int, sa_every: int = 2) -> SmolVLAPolicy:
    spec = TinySmolVLASpec(
        text_layers=LAYERS,
        num_expert_layers=expert_layers,
        self_attn_every_n_layers=sa_every,
        num_steps=NUM_STEPS,
        chunk_size=4,
        n_action_steps=2,
    )
    return SmolVLAPolicy(
        build_tiny_smolvla(tmp_path_factory.mktemp(f"smolvla_e{expert_layers}"), spec), noise_seed=0
    )


@pytest.fixture(scope="module")
def policy(tmp_path_factory: pytest.TempPathFactory) -> SmolVLAPolicy:
    return _build(tmp_path_factory, -1)  # one expert layer per VLM layer (SmolVLA's default)


def obs(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "images": {
            c: rng.integers(0, 256, (32, 32, 3), dtype=np.uint8) for c in ("agentview", "robot0_eye_in_hand")
        },
        "proprio": {
            "eef_pos": np.array([0.1, -0.1, 1.0]),
            "eef_quat": np.array([1.0, 0.0, 0.0, 0.0]),
            "gripper_qpos": np.array([0.02, -0.02]),
        },
    }


def actions(policy: SmolVLAPolicy, steps: int = 3) -> np.ndarray:
    policy.reset(TASK, seed=0)
    return np.stack([policy.select_action(obs(k)) for k in range(steps)])


def _check_exact(policy: SmolVLAPolicy) -> dict[str, list[torch.Tensor]]:
    model = policy.hook_model()
    _, wx = smolvla_points.find_vlm_with_expert(model)
    n_llm, n_exp = len(wx.get_vlm_model().text_model.layers), len(wx.lm_expert.layers)
    names = resid_post_names(model)
    names += [f"llm.blocks.{i}.resid_pre" for i in range(n_llm)]
    names += [f"expert.blocks.{j}.resid_pre" for j in range(n_exp)]
    norm_in: dict[str, list[torch.Tensor]] = {"llm": [], "expert": []}
    handles = [
        norm.register_forward_pre_hook(lambda m, a, s=s: norm_in[s].append(a[0].clone()))
        for s, norm in (("llm", wx.get_vlm_model().text_model.norm), ("expert", wx.lm_expert.norm))
    ]
    try:
        with SmolVLAResidualCapture(model, names) as cap:
            policy.reset(TASK, seed=0)
            for k in range(3):  # chunks of 2: steps 0 and 2 run the model
                policy.select_action(obs(k))
    finally:
        for h in handles:
            h.remove()
    rec = cap.records
    assert len(rec["llm.blocks.0.resid_post"]) == 2  # once per chunk (prefix pass)
    assert len(rec["expert.blocks.0.resid_post"]) == 2 * NUM_STEPS  # once per denoising step
    for stream, n in (("llm", n_llm), ("expert", n_exp)):
        for i in range(n):
            post = rec[f"{stream}.blocks.{i}.resid_post"]
            nxt = rec[f"{stream}.blocks.{i + 1}.resid_pre"] if i + 1 < n else norm_in[stream]
            assert len(post) == len(nxt) > 0
            for a, b in zip(post, nxt, strict=True):
                assert torch.equal(a, b), f"{stream} block {i}: max |diff| {(a - b).abs().max()}"
            assert not torch.equal(
                post[0], rec[f"{stream}.blocks.{i}.resid_pre"][0]
            )  # the block did something
    return rec


def test_resid_post_equals_next_block_input_exactly(policy):
    rec = _check_exact(policy)
    hidden = policy.hook_model().model.vlm_with_expert
    assert rec["llm.blocks.0.resid_post"][0].shape[-1] == hidden.config.text_config.hidden_size
    assert rec["expert.blocks.0.resid_post"][0].shape[1:] == (
        4,
        hidden.expert_hidden_size,
    )  # chunk_size tokens


def test_resid_post_exact_with_fewer_expert_layers(tmp_path_factory):
    # Expert blocks beside VLM blocks 0 and 2. LeRobot 0.4.4 picks cross-attention by VLM index but
    # reshapes the expert's k/v by expert index, so only consistent combinations build and run:
    # with 2 of 4 expert layers that needs self_attn_every_n_layers=4 (VLM 2 / expert 1 cross-attend).
    half = _build(tmp_path_factory, LAYERS // 2, sa_every=4)
    assert [
        smolvla_points.expert_vlm_index(half.hook_model().model.vlm_with_expert, j) for j in range(2)
    ] == [0, 2]
    _check_exact(half)


def test_whole_block_hooks_never_fire_which_is_why_we_reconstruct(policy):
    model = policy.hook_model()
    calls = []
    handle = resid_post_block(model, "llm.blocks.1.resid_post").register_forward_hook(
        lambda *a: calls.append(1)
    )
    try:
        actions(policy, 1)
    finally:
        handle.remove()
    assert calls == []


def test_mlp_output_reference_is_overwritten_in_place(policy):
    """LeRobot adds the residual into mlp's output tensor: captures must copy inside the hook."""
    model = policy.hook_model()
    kept: list[torch.Tensor] = []
    handle = resid_post_block(model, "expert.blocks.1.resid_post").mlp.register_forward_hook(
        lambda m, a, out: kept.append(out)
    )
    try:
        with SmolVLAResidualCapture(model, ["expert.blocks.1.resid_post", "expert.blocks.1.mlp_out"]) as cap:
            actions(policy, 1)
    finally:
        handle.remove()
    assert torch.equal(kept[0], cap.records["expert.blocks.1.resid_post"][0])
    assert not torch.equal(
        cap.records["expert.blocks.1.mlp_out"][0], cap.records["expert.blocks.1.resid_post"][0]
    )


def test_zero_steering_is_bit_identical_and_nonzero_changes_actions(policy):
    model = policy.hook_model()
    base = actions(policy)
    llm_dim = resid_post_block(model, "llm.blocks.0.resid_post").mlp.down_proj.out_features
    exp_dim = resid_post_block(model, "expert.blocks.0.resid_post").mlp.down_proj.out_features
    zero = {
        "llm.blocks.1.resid_post": torch.zeros(llm_dim),
        "expert.blocks.0.resid_post": torch.zeros(exp_dim),
    }
    with SmolVLAResidualSteer(model, zero) as steer:
        same = actions(policy)
    assert steer.calls == 2 * (1 + NUM_STEPS)  # 2 chunks: 1 prefix pass + NUM_STEPS expert passes each
    assert np.array_equal(base, same)
    g = torch.Generator().manual_seed(0)
    for name, dim in (("llm.blocks.1.resid_post", llm_dim), ("expert.blocks.0.resid_post", exp_dim)):
        with SmolVLAResidualSteer(model, {name: torch.randn(dim, generator=g)}, scale=5.0):
            steered = actions(policy)
        assert np.abs(steered - base).max() > 1e-3, name
    assert np.array_equal(actions(policy), base)  # nothing left behind


def test_steering_adds_exactly_where_captured(policy):
    model = policy.hook_model()
    name = "expert.blocks.0.resid_post"
    vec = torch.linspace(-1, 1, resid_post_block(model, name).mlp.down_proj.out_features)
    with SmolVLAResidualCapture(model, [name]) as before:
        actions(policy, 1)
    with SmolVLAResidualSteer(model, {name: vec}, scale=0.5), SmolVLAResidualCapture(model, [name]) as after:
        actions(policy, 1)
    # first denoising step: same inputs, so the stream differs by exactly the added vector (float rounding)
    torch.testing.assert_close(after.records[name][0], before.records[name][0] + 0.5 * vec, rtol=0, atol=1e-6)
    # capture entered first, steering second: steering's hooks are prepended, so the capture still sees it
    with SmolVLAResidualCapture(model, [name]) as late, SmolVLAResidualSteer(model, {name: vec}, scale=0.5):
        actions(policy, 1)
    assert torch.equal(late.records[name][0], after.records[name][0])


def test_register_resid_post_follows_register_point_contract(policy):
    """The plug for the generic capture/steer sessions: on_hidden(h) -> None | replacement."""
    model = policy.hook_model()
    name = "expert.blocks.1.resid_post"
    base = actions(policy)
    seen: list[torch.Tensor] = []
    group = register_resid_post(model, name, lambda h: seen.append(h.clone()))
    try:
        with SmolVLAResidualCapture(model, [name]) as cap:
            assert np.array_equal(actions(policy), base)
    finally:
        group.remove()
    assert len(seen) == len(cap.records[name]) == 2 * NUM_STEPS
    assert all(torch.equal(a, b) for a, b in zip(seen, cap.records[name], strict=True))
    group = register_resid_post(model, name, lambda h: h.clone())  # an equal replacement: a no-op
    try:
        assert np.array_equal(actions(policy), base)
    finally:
        group.remove()
    group = register_resid_post(model, name, lambda h: h + 3.0)
    try:
        assert np.abs(actions(policy) - base).max() > 1e-3
    finally:
        group.remove()
    assert count_hooks(model) == 0


def test_last_vlm_block_output_is_dead_for_actions(policy):
    model = policy.hook_model()
    last = f"llm.blocks.{LAYERS - 1}.resid_post"
    dim = resid_post_block(model, last).mlp.down_proj.out_features
    base = actions(policy)
    with pytest.warns(UserWarning, match="cannot change actions"):
        steer = SmolVLAResidualSteer(model, {last: torch.full((dim,), 10.0)})
    with steer:
        assert np.array_equal(actions(policy), base)
    assert steer.calls == 2  # the addition did happen (once per chunk) and still changed nothing


def test_no_hooks_left_after_contexts_even_on_error(policy):
    model = policy.hook_model()
    before = count_hooks(model)
    dim = resid_post_block(model, "expert.blocks.2.resid_post").mlp.down_proj.out_features
    with pytest.raises(RuntimeError, match="boom"):
        with SmolVLAResidualCapture(model, [*resid_post_names(model), "vision.blocks.0.resid_post"]):
            with SmolVLAResidualSteer(model, {"expert.blocks.2.resid_post": torch.ones(dim)}):
                assert count_hooks(model) > before
                raise RuntimeError("boom")
    assert count_hooks(model) == before


def test_bad_names_and_vectors_fail_before_running(policy):
    model = policy.hook_model()
    with pytest.raises(KeyError, match=r"blocks 0\.\.3"):
        SmolVLAResidualCapture(model, ["expert.blocks.9.resid_post"])
    with pytest.raises(KeyError, match="not valid"):
        SmolVLAResidualCapture(model, ["llm.blocks.0.nonsense"])
    with pytest.raises(ValueError, match="dim="):
        SmolVLAResidualSteer(model, {"llm.blocks.0.resid_post": torch.zeros(7)})
    with pytest.raises(KeyError):
        SmolVLAResidualSteer(model, {"llm.blocks.0.mlp_out": torch.zeros(7)})


def test_generic_resolver_knows_smolvla_single_module_points(policy):
    model = policy.hook_model()
    assert detect_arch(model) == "smolvla"
    names = valid_names(model)
    assert "vision.blocks.1.resid_post" in names and "projector.out" in names
    assert f"expert.blocks.{LAYERS - 1}.mlp_out" in names and "expert.final_norm" in names
    point = resolve(model, "expert.blocks.0.resid_pre").point
    assert point.reads == "input" and point.path.endswith("lm_expert.layers.0.input_layernorm")
    with SmolVLAResidualCapture(model, ["vision.blocks.1.resid_post", "projector.out"]) as cap:
        actions(policy, 1)
    assert len(cap.records["projector.out"]) == 2  # one per camera
    assert cap.records["projector.out"][0].shape[1] == 4  # (32/8)^2 patches / pixel-shuffle 2^2
