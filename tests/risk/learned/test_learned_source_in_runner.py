"""The learned risk source in the runner: the stored per-step risk is the checkpoint applied offline to the
stored hidden state of the same step, exactly (no one-step lag), with a tiny OpenVLA in real LIBERO."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mistvla.harness.envs.libero import LiberoEnv
from mistvla.harness.interventions.base import InterventionConfig, make_intervention
from mistvla.harness.results.identity import EpisodeId
from mistvla.harness.results.store import ResultsStore
from mistvla.harness.risk.base import RiskConfig, make_risk_source
from mistvla.harness.risk.learned.model import ModelConfig, RiskMLP, save_checkpoint
from mistvla.harness.risk.learned.source import score_hidden
from mistvla.harness.run.episode import run_episode
from mistvla.harness.run.plan import EpisodeSpec

POINT, POS = "llm.blocks.1.resid_post", "last_prompt"


def _checkpoint(path, in_dim):
    torch.manual_seed(0)
    net = RiskMLP(ModelConfig(in_dim=in_dim, hidden=16, n_horizons=2, n_types=1))
    meta = {
        "feature": {"point": POINT, "position": POS, "model": "openvla", "hidden_size": in_dim},
        "labels": {"horizons": [5, 10], "types": ["any"]},
    }
    return save_checkpoint(path, net, meta)


@pytest.mark.render
def test_stored_risk_equals_offline_prediction_on_the_same_step(tmp_path):
    from mistvla.policies.openvla.policy import OpenVLAPolicy
    from mistvla.policies.testing.tiny_llava import build_tiny_llava

    ckpt = build_tiny_llava(tmp_path / "vla", hidden_size=64, num_layers=2)
    policy = OpenVLAPolicy(ckpt, unnorm_key="libero_spatial_no_noops")  # no capture: the source arms it
    source = make_risk_source(RiskConfig("learned", {"checkpoint": str(_checkpoint(tmp_path / "risk", 64))}))
    env = LiberoEnv("libero_spatial", 0, cameras=policy.requirements.cameras, image_size=64, max_steps=3)
    try:
        spec = EpisodeSpec(EpisodeId("openvla", "slow", "libero_spatial", 0, init_state=1, seed=0))
        slow = make_intervention(InterventionConfig.make("slow", factor=0.5), threshold=0.0)
        res = run_episode(env, policy, slow, source, spec)
    finally:
        env.close()
    assert res.record["termination_reason"] == "timeout", res.record["error"]
    with ResultsStore.open(tmp_path / "run", {"test": "learned"}) as store:
        key = store.write_episode(res.record, res.steps, res.hidden)
        shard = store.hidden(key, f"{POINT}__{POS}")
        steps = store.steps().to_pydict()
    assert shard.shape == (3, 64)
    offline = [np.float32(score_hidden(source.model, shard[t], source.column)[0]) for t in range(3)]
    assert np.array_equal(np.asarray(steps["risk_score"], dtype=np.float32), np.asarray(offline))
    assert all(steps["intervention_active"])  # gated on the step's own risk, from the first step
    assert len(steps["risk_per_dim"][0]) == 7
