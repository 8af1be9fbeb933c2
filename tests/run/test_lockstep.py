"""Lock-step episodes with one batched reference policy give the one-at-a-time results (to float32
precision), hidden states and per-episode steering included."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mistvla.harness.envs.libero import LiberoEnv
from mistvla.harness.interventions.base import InterventionConfig, make_intervention
from mistvla.harness.results.identity import EpisodeId
from mistvla.harness.risk.constant import ConstantConfig, ConstantRisk
from mistvla.harness.run.episode import run_episode
from mistvla.harness.run.lockstep import LockstepEpisode, LockstepStats, run_lockstep
from mistvla.harness.run.plan import EpisodeSpec
from mistvla.hooks.capture import CaptureSpec
from mistvla.hooks.steering import SteeringSpec
from mistvla.policies.reference.checkpoint import Checkpoint, save_checkpoint
from mistvla.policies.reference.model import ReferenceConfig, ReferenceModel
from mistvla.policies.reference.normalization import Normalizer
from mistvla.policies.reference.policy import ReferencePolicy
from mistvla.policies.reference.tokenizer import WordTokenizer

VOLATILE = {"wall_time_s", "started_utc"}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("lockstep")
    envs = [LiberoEnv("libero_spatial", 0, cameras=(), privileged=True, max_steps=n) for n in (6, 4, 6)]
    names = list(envs[0].object_names[:3])
    torch.manual_seed(0)
    tok = WordTokenizer.build([envs[0].instruction])
    model = ReferenceModel(ReferenceConfig(len(tok.vocab), 12 * len(names), hidden_size=32, num_layers=2,
                                           num_heads=2, intermediate_size=64, prompt_length=16))  # fmt: skip
    rng = np.random.default_rng(0)
    norm = Normalizer.fit({"state": rng.normal(size=(50, 14)), "env": rng.normal(size=(50, 12 * len(names))),
                           "action": rng.normal(size=(50, 6))})  # fmt: skip
    ckpt = save_checkpoint(tmp / "ckpt", Checkpoint(model, tok, norm, names, {"by": "init_state"}, {}))
    for d in range(6):
        vec = np.random.default_rng(d).normal(size=32)
        SteeringSpec({"llm.blocks.1.resid_post": vec}, positions="last_prompt").save(
            tmp / "steer" / f"dim_{d}"
        )
    yield envs, ckpt, tmp / "steer"
    for env in envs:
        env.close()


def _episodes(envs, steer_dir):
    steer = InterventionConfig.make("steer", threshold=0.2, steering=str(steer_dir), alpha=2.0)
    configs = [steer, InterventionConfig.make("none"), steer]
    out = []
    for k, (env, icfg) in enumerate(zip(envs, configs, strict=True)):
        spec = EpisodeSpec(EpisodeId("reference", icfg.display, "libero_spatial", 0, k, 0), episode_index=k)
        out.append(
            LockstepEpisode(env, make_intervention(icfg, 0.2), ConstantRisk(ConstantConfig(0.5)), spec)
        )
    return out


def test_lockstep_matches_one_at_a_time(setup):
    envs, ckpt, steer_dir = setup
    capture = CaptureSpec(("llm.blocks.1.resid_post",), ("last_prompt", "mean"))
    single = [
        run_episode(e.env, ReferencePolicy(ckpt, capture=capture, action_noise=0.05), e.intervention,
                    e.risk_source, e.spec)
        for e in _episodes(envs, steer_dir)
    ]  # fmt: skip
    stats = LockstepStats()
    batched = run_lockstep(
        ReferencePolicy(ckpt, capture=capture, action_noise=0.05), _episodes(envs, steer_dir), stats=stats
    )
    for a, b in zip(single, batched, strict=True):
        assert a.record["error"] is None and b.record["error"] is None, (a.record["error"], b.record["error"])
        assert {k: v for k, v in a.record.items() if k not in VOLATILE} == {
            k: v for k, v in b.record.items() if k not in VOLATILE
        }
        # A batched float32 GEMM rounds differently from a batch of one (measured: ~1e-7), so values
        # agree to float32 precision, not bit for bit; discrete columns agree exactly.
        assert a.steps.keys() == b.steps.keys()
        for key in ("step", "intervention_active", "n_collision_events", "risk_score"):
            assert a.steps[key] == b.steps[key], key
        for key in ("raw_action", "executed_action", "eef_pos"):
            np.testing.assert_allclose(a.steps[key], b.steps[key], rtol=0, atol=1e-5, err_msg=key)
        assert a.hidden.keys() == b.hidden.keys() and a.hidden
        for key in a.hidden:
            np.testing.assert_allclose(a.hidden[key], b.hidden[key], rtol=1e-4, atol=1e-5, err_msg=key)
    assert stats.policy_calls == 6 and stats.items == 6 + 4 + 6  # the short episode left the batch
    assert all(batched[0].steps["intervention_active"]) and not any(batched[1].steps["intervention_active"])
    e = _episodes(envs, steer_dir)[0]
    plain = run_episode(e.env, ReferencePolicy(ckpt, action_noise=0.05), make_intervention(
        InterventionConfig.make("none"), None), e.risk_source, e.spec)  # fmt: skip
    assert plain.steps["raw_action"] != single[0].steps["raw_action"]  # the steering acts


def test_lockstep_runs_give_the_same_tables_for_a_looping_policy(tmp_path):
    from mistvla.harness.config.run import parse_config
    from mistvla.harness.results.store import ResultsStore
    from mistvla.harness.run.run_command import run

    def table(lockstep: int) -> list[dict]:
        cfg = parse_config(
            {
                "name": "ls",
                "output_dir": str(tmp_path / f"ls{lockstep}"),
                "policy": {"name": "random", "params": {"seed": 2}},
                "episodes": {"suite": "libero_spatial", "tasks": [0], "init_states": [0, 1, 2]},
                "env": {"max_steps": 6},
                "risk": {"source": "constant"},
                "lockstep": lockstep,
            }
        )
        store = ResultsStore.read(run(cfg, workers=1, progress=False))
        drop = VOLATILE | {"run_id"}
        rows = [{k: v for k, v in r.items() if k not in drop} for r in store.episodes().to_pylist()]
        steps = [{k: v for k, v in r.items() if k != "run_id"} for r in store.steps().to_pylist()]
        return sorted(rows, key=lambda r: r["episode_key"]), sorted(
            steps, key=lambda r: (r["episode_key"], r["step"])
        )

    assert table(2) == table(1)  # groups of 2 and 1: bit-identical, the policy is called per episode
