"""OpenVLA and SmolVLA adapters (tiny random weights) act in real LIBERO through the episode
runner, with hidden states captured at named hook points and stored as float16 shards."""

from __future__ import annotations

import numpy as np
import pytest

from mistvla.harness.envs.libero import LiberoEnv
from mistvla.harness.interventions.base import InterventionConfig, make_intervention
from mistvla.harness.results.identity import EpisodeId
from mistvla.harness.results.store import ResultsStore
from mistvla.harness.risk.constant import ConstantConfig, ConstantRisk
from mistvla.harness.run.episode import run_episode
from mistvla.harness.run.plan import EpisodeSpec
from mistvla.hooks import CaptureSpec, count_hooks

STEPS = 3


def run_and_store(policy, name, tmp_path, image_size=64):
    req = policy.requirements
    env = LiberoEnv("libero_spatial", 0, cameras=req.cameras, image_size=image_size, max_steps=STEPS)
    try:
        spec = EpisodeSpec(EpisodeId(name, "none", "libero_spatial", 0, init_state=2, seed=0))
        result = run_episode(
            env,
            policy,
            make_intervention(InterventionConfig.make("none"), None),
            ConstantRisk(ConstantConfig(0.0)),
            spec,
        )
    finally:
        env.close()
    assert result.record["termination_reason"] == "timeout", result.record["error"]
    assert result.record["steps"] == STEPS
    with ResultsStore.open(tmp_path / "run", {"test": name}) as store:
        key = store.write_episode(result.record, result.steps, result.hidden)
        layers = store.episodes().to_pylist()[0]["hidden_layers"]
        arrays = {layer: store.hidden(key, layer) for layer in layers}
    return arrays


@pytest.mark.render
def test_tiny_openvla_in_runner_captures_hidden_states(tmp_path):
    from mistvla.policies.openvla.policy import OpenVLAPolicy
    from mistvla.policies.testing.tiny_llava import build_tiny_llava

    ckpt = build_tiny_llava(tmp_path / "ckpt", hidden_size=64, num_layers=2)
    capture = CaptureSpec(points=("llm.blocks.1.resid_post",), positions=("last_prompt", "generated"))
    policy = OpenVLAPolicy(ckpt, unnorm_key="libero_spatial_no_noops", capture=capture)
    arrays = run_and_store(policy, "openvla", tmp_path)
    assert set(arrays) == {"llm.blocks.1.resid_post__last_prompt", "llm.blocks.1.resid_post__generated"}
    last = arrays["llm.blocks.1.resid_post__last_prompt"]
    assert last.dtype == np.float16 and last.shape[0] == STEPS and last.shape[-1] == 64
    assert np.all(np.isfinite(last)) and np.abs(last).sum() > 0
    assert isinstance(last, np.memmap)
    assert count_hooks(policy.hook_model()) == 0


@pytest.mark.render
@pytest.mark.slow
def test_tiny_smolvla_in_runner_captures_hidden_states(tmp_path):
    from mistvla.policies.smolvla.policy import SmolVLAPolicy
    from mistvla.policies.testing.tiny_smolvla import TinySmolVLASpec, build_tiny_smolvla

    ckpt = build_tiny_smolvla(tmp_path / "ckpt", TinySmolVLASpec(n_action_steps=1))
    capture = CaptureSpec(points=("llm.blocks.1.resid_post",), positions=("last_prompt",))
    policy = SmolVLAPolicy(ckpt, noise_seed=0, capture=capture)
    arrays = run_and_store(policy, "smolvla", tmp_path, image_size=policy.requirements.image_size)
    assert list(arrays) == ["llm.blocks.1.resid_post__last_prompt"]
    a = arrays["llm.blocks.1.resid_post__last_prompt"]
    assert a.dtype == np.float16 and a.shape[0] == STEPS and np.abs(a).sum() > 0
