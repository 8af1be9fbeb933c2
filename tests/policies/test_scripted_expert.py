"""The scripted expert on the real LIBERO simulator: success, unsupported goals, perturbations."""

from __future__ import annotations

import numpy as np
import pytest

from mistvla.harness.envs.libero import LiberoEnv
from mistvla.harness.errors import UnsupportedTaskError
from mistvla.policies.registry import make_policy
from mistvla.policies.scripted.expert import PerturbationConfig, ScriptedExpert


@pytest.fixture(scope="module")
def spatial0():
    env = LiberoEnv("libero_spatial", 0, cameras=(), privileged=True)
    yield env
    env.close()


def rollout(env, policy, init_state, episode=None, max_steps=None):
    obs, _ = env.reset(seed=init_state, options={"init_state": init_state})
    policy.reset(env.instruction, seed=init_state if episode is None else episode)
    actions = []
    while True:
        action = policy.select_action(obs)
        actions.append(action)
        obs, _, terminated, truncated, info = env.step(action)
        if terminated or truncated or (max_steps is not None and len(actions) >= max_steps):
            return info, np.array(actions)


def test_clean_expert_solves_spatial_task0_without_collisions(spatial0):
    policy = make_policy("scripted")
    assert isinstance(policy, ScriptedExpert) and policy.requirements.privileged
    spec = policy.bind(spatial0)
    assert (spec.goal.relation, spec.goal.obj, spec.goal.target_object) == (
        "on",
        "akita_black_bowl_1",
        "plate_1",
    )
    info, actions = rollout(spatial0, policy, init_state=0)
    assert info["is_success"] and info["termination_reason"] == "success"
    assert len(actions) < spatial0.max_steps
    phases = [p for _, p in policy.phase_log]
    assert phases[:6] == ["approach", "descend", "grasp", "lift", "transport", "place"]
    assert policy.attempts == 0
    assert info["episode_collisions"]["n_onsets"] == 0, info["episode_collisions"]
    assert actions.dtype == np.float32 and np.all(np.abs(actions) <= 1.0)


def test_overshoot_drives_into_the_table(spatial0):
    policy = ScriptedExpert(perturbation=PerturbationConfig(overshoot=0.1))
    policy.bind(spatial0)
    info, _ = rollout(spatial0, policy, init_state=1)
    coll = info["episode_collisions"]
    assert coll["collided"] or not info["is_success"]
    assert coll["max_collision_force_n"] > 50.0  # an impact, not a touch


def test_wrong_object_goes_for_the_other_bowl_and_fails(spatial0):
    policy = ScriptedExpert(perturbation=PerturbationConfig(wrong_object_prob=1.0))
    policy.bind(spatial0)
    info, _ = rollout(spatial0, policy, init_state=0)
    assert policy.grasp_obj == "akita_black_bowl_2"
    assert not info["is_success"]


def test_perturbed_actions_are_deterministic_in_seed_and_episode(spatial0):
    cfg = PerturbationConfig(action_noise=0.2, grasp_offset=0.02, speed_scale=1.3, seed=7)
    runs = []
    for _ in range(2):
        policy = ScriptedExpert(perturbation=cfg)
        policy.bind(spatial0)
        runs.append(rollout(spatial0, policy, init_state=2, episode=5, max_steps=25)[1])
    np.testing.assert_array_equal(runs[0], runs[1])
    other = ScriptedExpert(perturbation=cfg)
    other.bind(spatial0)
    diff = rollout(spatial0, other, init_state=2, episode=6, max_steps=25)[1]
    assert not np.array_equal(runs[0], diff)


def test_unsupported_task_raises_at_bind_with_the_predicate():
    env = LiberoEnv("libero_goal", 7, cameras=(), privileged=True)  # "turn on the stove"
    try:
        with pytest.raises(UnsupportedTaskError, match=r"\(turnon flat_stove_1\)"):
            ScriptedExpert().bind(env)
    finally:
        env.close()


def test_reset_refuses_an_unbound_or_different_task(spatial0):
    with pytest.raises(RuntimeError, match="bind"):
        ScriptedExpert().reset(spatial0.instruction)
    policy = ScriptedExpert()
    policy.bind(spatial0)
    with pytest.raises(ValueError, match="bind the new env"):
        policy.reset("put the cream cheese in the bowl")


def test_select_action_needs_privileged_observations(spatial0):
    policy = ScriptedExpert()
    policy.bind(spatial0)
    policy.reset(spatial0.instruction)
    with pytest.raises(KeyError, match="privileged=True"):
        policy.select_action({"proprio": {}})


def test_quiet_phases_execute_the_clean_action_there_and_noise_elsewhere(spatial0):
    cfg = PerturbationConfig(action_noise=0.2, quiet_phases=("approach",))
    policy = ScriptedExpert(perturbation=cfg)
    policy.bind(spatial0)
    obs, _ = spatial0.reset(seed=0, options={"init_state": 0})
    policy.reset(spatial0.instruction, seed=0)
    phases = []
    while phases.count("descend") < 10 and len(phases) < 150:  # into the (noisy) descent
        phase = policy.phase
        executed = policy.select_action(obs)
        quiet = np.array_equal(executed, policy.last_clean_action)
        assert quiet == (phase == "approach"), (phase, executed, policy.last_clean_action)
        phases.append(phase)
        obs, *_ = spatial0.step(executed)
    assert phases.count("approach") > 5 and phases.count("descend") == 10


def test_quiet_phases_must_name_expert_phases():
    with pytest.raises(ValueError, match=r"quiet_phases: unknown phase\(s\) \['hover'\]"):
        ScriptedExpert(perturbation=PerturbationConfig(action_noise=0.1, quiet_phases=("hover",)))


def test_settle_grasp_lifts_once_the_fingers_stop_closing(spatial0):
    policy = ScriptedExpert(settle_grasp=True)
    policy.bind(spatial0)
    obs, _ = spatial0.reset(seed=0, options={"init_state": 0})
    policy.reset(spatial0.instruction, seed=0)
    fingers, info = [], {}
    while not policy.phase_log[-1][1] == "lift":
        fingers.append(float(np.abs(obs["proprio"]["gripper_qpos"]).sum()))
        obs, _, terminated, truncated, info = spatial0.step(policy.select_action(obs))
        assert not (terminated or truncated), info
    starts = dict((phase, t) for t, phase in policy.phase_log)
    assert 6 < starts["lift"] - starts["grasp"] < 30
    closing = np.abs(np.diff(fingers[starts["grasp"] :]))
    assert closing[:3].max() > 1e-3 and abs(fingers[-1] - fingers[-7]) < 1e-3  # closed, then still
