"""The reference policy: tiny training reduces the loss, checkpoints round-trip, hooks capture and steer."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from mistvla.hooks.capture import CaptureSpec
from mistvla.hooks.points import valid_names
from mistvla.hooks.steering import SteeringSpec
from mistvla.policies.reference.checkpoint import (
    Checkpoint,
    CheckpointError,
    load_checkpoint,
    save_checkpoint,
)
from mistvla.policies.reference.model import ReferenceConfig, ReferenceModel
from mistvla.policies.reference.normalization import Normalizer
from mistvla.policies.reference.policy import ReferencePolicy
from mistvla.policies.reference.tokenizer import WordTokenizer
from mistvla.policies.reference.train import loss_fn

NAMES = ["bowl_1", "plate_1"]
INSTR = "pick up the bowl and place it on the plate"


def _obs(rng):
    return {
        "proprio": {
            "eef_pos": rng.normal(size=3),
            "eef_axis_angle": rng.normal(size=3),
            "gripper_qpos": rng.normal(size=2),
        },
        "privileged": {n: np.concatenate([rng.normal(size=3), [0, 0, 0, 1.0]]) for n in NAMES},
    }


def _tiny_model(tok, env_dim, relative_env=False):
    torch.manual_seed(0)
    return ReferenceModel(ReferenceConfig(len(tok.vocab), env_dim, hidden_size=32, num_layers=2, num_heads=2,
                                          intermediate_size=64, prompt_length=12, relative_env=relative_env))  # fmt: skip


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory):
    tok = WordTokenizer.build([INSTR])
    model = _tiny_model(tok, 24)
    rng = np.random.default_rng(0)
    norm = Normalizer.fit({"state": rng.normal(size=(50, 14)), "env": rng.normal(size=(50, 24)),
                           "action": rng.normal(size=(50, 6))})  # fmt: skip
    ckpt = Checkpoint(
        model, tok, norm, NAMES, {"by": "init_state", "train": [0], "val": [1]}, {"dataset": {}}
    )
    return save_checkpoint(tmp_path_factory.mktemp("ck") / "tiny", ckpt)


def test_few_training_steps_reduce_the_loss():
    torch.manual_seed(0)
    model = ReferenceModel(ReferenceConfig(20, 24, hidden_size=32, num_layers=2, num_heads=2, intermediate_size=64,
                                           prompt_length=6))  # fmt: skip
    g = torch.Generator().manual_seed(0)
    batch = {"ids": torch.randint(0, 20, (64, 6), generator=g), "state": torch.randn(64, 14, generator=g),
             "env": torch.randn(64, 24, generator=g), "grip": (torch.rand(64, generator=g) > 0.5).float()}  # fmt: skip
    batch["arm"] = torch.tanh(batch["state"][:, :6] + batch["env"][:, :6])
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    before = float(loss_fn(model, batch).detach())
    for _ in range(40):
        opt.zero_grad()
        loss_fn(model, batch).backward()
        opt.step()
    assert float(loss_fn(model, batch).detach()) < 0.6 * before


def test_checkpoint_round_trip_gives_identical_actions(tiny_ckpt, tmp_path):
    a, b = ReferencePolicy(tiny_ckpt), ReferencePolicy(tiny_ckpt)
    obs = _obs(np.random.default_rng(1))
    a.reset(INSTR, seed=0)
    b.reset(INSTR, seed=0)
    np.testing.assert_array_equal(a.select_action(obs), b.select_action(obs))
    again = save_checkpoint(tmp_path / "copy", load_checkpoint(tiny_ckpt))
    c = ReferencePolicy(again)
    c.reset(INSTR, seed=0)
    np.testing.assert_array_equal(a.select_action(obs), c.select_action(obs))
    (again / "normalization.json").write_text(json.dumps({"state": {}}))
    with pytest.raises(CheckpointError, match="manifest hash"):
        load_checkpoint(again)


def test_capture_matches_output_hidden_states(tiny_ckpt):
    policy = ReferencePolicy(
        tiny_ckpt, capture=CaptureSpec(("llm.blocks.0.resid_post", "llm.final_norm"), ("last_prompt", "mean"))
    )
    assert "llm.blocks.1.resid_post" in valid_names(policy.hook_model(), "llama")
    obs = _obs(np.random.default_rng(2))
    policy.reset(INSTR, seed=0)
    policy.select_action(obs)
    rec = policy.last_capture
    from mistvla.harness.envs.vectors import environment_vector, state_vector
    from mistvla.policies.reference.policy import model_inputs

    ids, s, e = model_inputs(
        policy.ckpt, policy._ids, state_vector(obs)[None], environment_vector(obs, NAMES)[None]
    )
    with torch.no_grad():
        m = policy.model
        hs = m.language_model(inputs_embeds=m.embed(ids, s, e), output_hidden_states=True).hidden_states
    np.testing.assert_allclose(
        rec.arrays["llm.blocks.0.resid_post"]["last_prompt"], hs[1][0, -1].numpy(), atol=1e-5
    )
    np.testing.assert_allclose(rec.arrays["llm.final_norm"]["last_prompt"], hs[-1][0, -1].numpy(), atol=1e-5)
    np.testing.assert_allclose(
        rec.arrays["llm.blocks.0.resid_post"]["mean"], hs[1][0].mean(0).numpy(), atol=1e-5
    )


def test_steering_changes_the_action(tiny_ckpt):
    obs = _obs(np.random.default_rng(3))
    plain = ReferencePolicy(tiny_ckpt)
    plain.reset(INSTR, seed=0)
    vec = np.random.default_rng(4).normal(size=32)
    steered = ReferencePolicy(tiny_ckpt, steering=SteeringSpec({"llm.blocks.1.resid_post": vec}, alpha=4.0,
                                                               positions="last_prompt"))  # fmt: skip
    steered.reset(INSTR, seed=0)
    a, b = plain.select_action(obs), steered.select_action(obs)
    assert np.abs(a[:6] - b[:6]).max() > 1e-3


def test_relative_env_checkpoint_reads_object_minus_eef(tmp_path):
    from mistvla.policies.reference.policy import model_inputs

    tok = WordTokenizer.build([INSTR])
    model = _tiny_model(tok, 30, relative_env=True)
    rng = np.random.default_rng(0)
    norm = Normalizer.fit({"state": rng.normal(size=(50, 14)), "env": rng.normal(size=(50, 30)),
                           "action": rng.normal(size=(50, 6))})  # fmt: skip
    saved = save_checkpoint(tmp_path / "rel", Checkpoint(model, tok, norm, NAMES, {"by": "init_state"}, {}))
    ckpt = load_checkpoint(saved)
    assert ckpt.model.config.relative_env
    states = np.array([[0.1, 0.2, 1.0, 3.1, 0, 0, 0.04, -0.04]])
    envs = np.array([[0.5, 0.2, 0.9, 0, 0, 0, 1, 0.0, -0.3, 0.9, 0, 0, 0, 1]])
    _, _, e = model_inputs(ckpt, tok.encode(INSTR, 12), states, envs)
    raw = e.numpy() * np.asarray(norm.stats["env"]["std"]) + np.asarray(norm.stats["env"]["mean"])
    np.testing.assert_allclose(raw.reshape(2, 15)[:, 12:], [[0.4, 0.0, -0.1], [-0.1, -0.5, -0.1]], atol=1e-5)
    policy = ReferencePolicy(saved)
    policy.reset(INSTR, seed=0)
    assert policy.select_action(_obs(rng)).shape == (7,)


def test_floored_and_clipped_normalization_survives_the_checkpoint(tmp_path):
    """A nearly constant input (a static object's rotation) stays bounded after a save and a load."""
    from mistvla.policies.reference.features import environment_features
    from mistvla.policies.reference.policy import model_inputs

    tok = WordTokenizer.build([INSTR])
    model = _tiny_model(tok, 24)
    rng = np.random.default_rng(0)
    env = rng.normal(size=(50, 24))
    env[:, 4] = 1e-5 * rng.normal(size=50)  # bowl_1's R01, std ~1e-5: a 0.3 rad turn is ~3e4 stds
    arrays = {"state": rng.normal(size=(50, 14)), "env": env, "action": rng.normal(size=(50, 6))}
    norm = Normalizer.fit(arrays, floor={"state": 0.02, "env": 0.02}, clip={"state": 5.0, "env": 5.0})
    saved = save_checkpoint(tmp_path / "fl", Checkpoint(model, tok, norm, NAMES, {"by": "init_state"}, {}))
    ckpt = load_checkpoint(saved)
    envs = np.zeros((1, 14))
    envs[0, 3:7] = [0.0, 0.0, np.sin(0.15), np.cos(0.15)]  # bowl_1 turned 0.3 rad about z
    states = np.array([[0.1, 0.2, 1.0, 3.1, 0, 0, 0.04, -0.04]])
    _, s, e = model_inputs(ckpt, tok.encode(INSTR, 12), states, envs)
    assert float(ckpt.normalizer.stats["env"]["std"][4]) == pytest.approx(0.02)
    assert float(e[0, 4]) == -5.0 and float(e.abs().max()) <= 5.0 and float(s.abs().max()) <= 5.0
    unfloored = Normalizer.fit(arrays).normalize("env", environment_features(envs))
    assert abs(float(unfloored[0, 4])) > 1000


@pytest.mark.parametrize("field", ["input_std_floor", "input_clip"])
def test_train_config_refuses_a_non_positive_floor_or_clip(field):
    from mistvla.harness.errors import ConfigError
    from mistvla.policies.reference.train import TrainConfig

    with pytest.raises(ConfigError, match=rf"{field}: must be > 0"):
        TrainConfig(name="x", dataset=["d"], **{field: 0.0})


def test_prepared_causal_mask_gives_the_actions_of_transformers_own_mask():
    """The cached 4-D mask is the one transformers builds each forward: the same hidden states, bit for bit."""
    torch.manual_seed(0)
    model = ReferenceModel(
        ReferenceConfig(
            20,
            24,
            hidden_size=32,
            num_layers=2,
            num_heads=2,
            intermediate_size=64,
            prompt_length=8,
            pool_instruction=False,
        )
    ).eval()
    ids = torch.randint(1, 20, (3, 8))
    state, env = torch.randn(3, model.config.state_dim), torch.randn(3, 24)
    with torch.no_grad():
        embeds = model.embed(ids, state, env)
        own = model.language_model(inputs_embeds=embeds, use_cache=False).last_hidden_state
        prepared = model.forward(ids, state, env)
    assert torch.equal(model.action_head(own[:, -1]), prepared)
    assert model.causal_mask(embeds.shape[1], embeds.dtype, embeds.device) is model.causal_mask(
        embeds.shape[1], embeds.dtype, embeds.device
    )  # built once per length


def test_lean_decode_is_the_language_models_forward_and_fires_the_same_hooks():
    """``decode`` skips LlamaModel.forward's glue: same last hidden states and the same block outputs seen by
    forward hooks, bit for bit, under inference_mode as under no_grad."""
    torch.manual_seed(0)
    model = ReferenceModel(ReferenceConfig(20, 24, hidden_size=32, num_layers=3, num_heads=2,
                                           intermediate_size=64, prompt_length=8)).eval()  # fmt: skip
    ids = torch.randint(1, 20, (2, 8))
    embeds = model.embed(ids, torch.randn(2, model.config.state_dim), torch.randn(2, 24)).detach()
    seen: dict[str, list[torch.Tensor]] = {"hf": [], "lean": []}
    key = ["hf"]

    def grab(_module, _inputs, output):
        seen[key[0]].append((output[0] if isinstance(output, tuple) else output).clone())

    handles = [layer.register_forward_hook(grab) for layer in model.language_model.layers]
    try:
        with torch.no_grad():
            own = model.language_model(inputs_embeds=embeds, use_cache=False).last_hidden_state
        key[0] = "lean"
        with torch.inference_mode():
            lean = model.decode(embeds)
    finally:
        for h in handles:
            h.remove()
    assert torch.equal(own, lean)
    assert len(seen["hf"]) == len(seen["lean"]) == 3
    assert all(torch.equal(a, b) for a, b in zip(seen["hf"], seen["lean"], strict=True))
