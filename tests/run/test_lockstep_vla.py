"""Lock-step episodes with the tiny OpenVLA and SmolVLA, batched: the one-at-a-time records and steps,
hidden states to float32 rounding (closed loop: later frames may differ by a pixel level), steering only
in the steered episode."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pytest

from mistvla.harness.envs.libero import LiberoEnv
from mistvla.harness.interventions.base import InterventionConfig, make_intervention
from mistvla.harness.results.identity import EpisodeId
from mistvla.harness.risk.constant import ConstantConfig, ConstantRisk
from mistvla.harness.run.episode import run_episode
from mistvla.harness.run.lockstep import LockstepEpisode, LockstepStats, run_lockstep
from mistvla.harness.run.plan import EpisodeSpec
from mistvla.hooks.capture import CaptureSpec
from mistvla.hooks.steering import SteeringSpec

VOLATILE = {"wall_time_s", "started_utc"}
POINT = "llm.blocks.1.resid_post"


def _make(kind, tmp):
    if kind == "openvla":
        from mistvla.policies.openvla.policy import OpenVLAPolicy
        from mistvla.policies.testing.tiny_llava import build_tiny_llava

        ckpt = build_tiny_llava(tmp / "ckpt", hidden_size=32, image_size=64)
        return lambda **kw: OpenVLAPolicy(ckpt, **kw), 32
    from mistvla.policies.smolvla.policy import SmolVLAPolicy
    from mistvla.policies.testing.tiny_smolvla import TinySmolVLASpec, build_tiny_smolvla

    ckpt = build_tiny_smolvla(tmp / "ckpt", TinySmolVLASpec(chunk_size=4, n_action_steps=2, num_steps=2))
    return lambda **kw: SmolVLAPolicy(ckpt, noise_seed=0, **kw), 64


@pytest.mark.parametrize("kind", ["openvla", "smolvla"])
def test_batched_lockstep_matches_one_at_a_time(kind, tmp_path):
    make, width = _make(kind, tmp_path)
    probe = make()
    cams, size = probe.requirements.cameras, probe.requirements.image_size
    envs = [LiberoEnv("libero_spatial", 0, cameras=cams, image_size=size, max_steps=n) for n in (4, 3)]
    SteeringSpec({POINT: np.random.default_rng(0).normal(size=width)}, alpha=2.0, mode="relative").save(
        tmp_path / "steer" / "dim_0"
    )
    steer = InterventionConfig.make("steer", threshold=0.2, steering=str(tmp_path / "steer"), alpha=2.0)

    def episodes():
        out = []
        for k, (env, icfg) in enumerate(zip(envs, [steer, InterventionConfig.make("none")], strict=True)):
            spec = EpisodeSpec(EpisodeId(kind, icfg.display, "libero_spatial", 0, k, 0), episode_index=k)
            risk = ConstantRisk(ConstantConfig(0.5))
            out.append(LockstepEpisode(env, make_intervention(icfg, 0.2), risk, spec))
        return out

    capture = CaptureSpec((POINT,), ("last_prompt", "mean"))
    try:
        single = [
            run_episode(e.env, make(capture=capture), e.intervention, e.risk_source, e.spec)
            for e in episodes()
        ]
        stats = LockstepStats()
        batched = run_lockstep(make(capture=capture), episodes(), stats=stats)
    finally:
        for env in envs:
            env.close()
    assert stats.policy_calls == 4 and stats.items == 4 + 3
    for a, b in zip(single, batched, strict=True):
        assert a.record["error"] is None and b.record["error"] is None, (a.record["error"], b.record["error"])
        same = {k: v for k, v in a.record.items() if k not in VOLATILE}
        assert same == {k: v for k, v in b.record.items() if k not in VOLATILE}
        for key in ("step", "intervention_active"):
            assert a.steps[key] == b.steps[key], key
        for key in ("raw_action", "executed_action", "eef_pos"):
            np.testing.assert_allclose(a.steps[key], b.steps[key], rtol=0, atol=1e-5, err_msg=key)
        assert a.hidden.keys() == b.hidden.keys() and a.hidden
        for key in a.hidden:
            # The first step sees the same frame: float32 rounding only. Later frames are rendered from
            # states that differ by that rounding (actions agree to 1e-5), and an 8-bit pixel may flip.
            np.testing.assert_allclose(a.hidden[key][0], b.hidden[key][0], rtol=1e-4, atol=1e-5, err_msg=key)
            np.testing.assert_allclose(a.hidden[key], b.hidden[key], rtol=1e-3, atol=1e-3, err_msg=key)
    assert all(batched[0].steps["intervention_active"]) and not any(batched[1].steps["intervention_active"])
