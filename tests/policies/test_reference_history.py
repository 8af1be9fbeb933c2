"""Reference checkpoints with ``history``: the policy's own state buffer gives what training computed."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mistvla.harness.envs.vectors import state_vector
from mistvla.policies.reference.checkpoint import Checkpoint, save_checkpoint
from mistvla.policies.reference.features import past_states
from mistvla.policies.reference.model import ReferenceConfig, ReferenceModel
from mistvla.policies.reference.normalization import Normalizer
from mistvla.policies.reference.policy import ReferencePolicy, model_inputs
from mistvla.policies.reference.tokenizer import WordTokenizer

NAMES = ["bowl_1", "plate_1"]
INSTR = "pick up the bowl and place it on the plate"
K = 3


def _obs(rng):
    return {
        "proprio": {"eef_pos": rng.normal(size=3), "eef_axis_angle": rng.normal(size=3),
                    "gripper_qpos": rng.normal(size=2)},
        "privileged": {n: np.concatenate([rng.normal(size=3), [0, 0, 0, 1.0]]) for n in NAMES},
    }  # fmt: skip


@pytest.fixture(scope="module")
def history_ckpt(tmp_path_factory):
    torch.manual_seed(0)
    tok = WordTokenizer.build([INSTR])
    cfg = ReferenceConfig(len(tok.vocab), 24, state_dim=19, hidden_size=32, num_layers=2, num_heads=2,
                          intermediate_size=64, prompt_length=12, history=K)  # fmt: skip
    rng = np.random.default_rng(0)
    norm = Normalizer.fit({"state": rng.normal(size=(50, 19)), "env": rng.normal(size=(50, 24)),
                           "action": rng.normal(size=(50, 6))})  # fmt: skip
    ckpt = Checkpoint(ReferenceModel(cfg), tok, norm, NAMES, {"by": "init_state"}, {"dataset": {}})
    return save_checkpoint(tmp_path_factory.mktemp("ck") / "hist", ckpt)


def test_policy_buffer_matches_the_training_features(history_ckpt):
    policy = ReferencePolicy(history_ckpt)
    rng = np.random.default_rng(2)
    episode = [_obs(rng) for _ in range(7)]
    states = np.stack([state_vector(o) for o in episode])
    past = past_states(states, np.zeros(7, dtype=int), K)  # what train.py feeds the model
    policy.reset(INSTR, seed=0)
    for t, obs in enumerate(episode):
        got = policy.select_action(obs)
        ids, s, e = model_inputs(
            policy.ckpt,
            policy._ids,
            states[t : t + 1],
            policy.observed_environment(obs)[None],
            past[t : t + 1],
        )
        with torch.no_grad():
            out = policy.ckpt.model(ids, s, e).numpy()
        from mistvla.policies.reference.policy import decode_actions

        np.testing.assert_array_equal(got, decode_actions(policy.ckpt, out)[0])
    policy.reset(INSTR, seed=0)  # a new episode forgets the old one
    first = policy.select_action(episode[3])
    fresh = ReferencePolicy(history_ckpt)
    fresh.reset(INSTR, seed=0)
    np.testing.assert_array_equal(first, fresh.select_action(episode[3]))


def test_batched_forks_keep_their_own_history(history_ckpt):
    rng = np.random.default_rng(3)
    runs = [[_obs(rng) for _ in range(5)] for _ in range(2)]
    alone = []
    for run in runs:
        p = ReferencePolicy(history_ckpt)
        p.reset(INSTR, seed=0)
        alone.append(np.stack([p.select_action(o) for o in run]))
    forks = [ReferencePolicy(history_ckpt) for _ in runs]
    for p in forks:
        p.reset(INSTR, seed=0)
    batched = np.stack([ReferencePolicy.select_actions_for(forks, [r[t] for r in runs]) for t in range(5)], 1)
    np.testing.assert_allclose(batched, np.stack(alone), atol=1e-5)


def test_history_checkpoint_refuses_inputs_without_past(history_ckpt):
    policy = ReferencePolicy(history_ckpt)
    with pytest.raises(ValueError, match="reads history"):
        model_inputs(policy.ckpt, [1] * 12, np.zeros((1, 8)), np.zeros((1, 14)))


def test_a_per_step_jacobian_leaves_the_episode_alone(history_ckpt):
    """``jacobian_online`` takes the step's Jacobian before its action: the history and the actions that
    follow must be those of an episode without it, and its action is the step's own (unsteered) one."""
    from mistvla.harness.steering.jacobian import jacobian_here

    rng = np.random.default_rng(4)
    episode = [_obs(rng) for _ in range(6)]
    plain, probed = ReferencePolicy(history_ckpt), ReferencePolicy(history_ckpt)
    plain.reset(INSTR, seed=0)
    probed.reset(INSTR, seed=0)
    for obs in episode:
        _, J, action = jacobian_here(probed, obs, "llm.blocks.1.resid_post")
        assert J.shape == (7, 32) and np.abs(J).sum() > 0
        want = plain.select_action(obs)
        np.testing.assert_array_equal(probed.select_action(obs), want)
        np.testing.assert_allclose(np.clip(action[:6], -1, 1), want[:6], atol=1e-5)
