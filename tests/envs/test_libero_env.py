"""The LIBERO Gymnasium env on the real simulator (rendering off unless marked)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from mistvla.harness.envs.libero import LiberoEnv
from mistvla.harness.envs.registration import env_id, register_envs
from mistvla.harness.envs.tasks import SUITES, get_task, step_limit
from mistvla.harness.errors import InvalidActionError

DOWN_RIGHT = np.array([0.3, 0.0, -0.2, 0.0, 0.0, 0.0, -1.0])


@pytest.fixture(scope="module")
def env():
    e = LiberoEnv("libero_spatial", 0, cameras=(), privileged=True)
    yield e
    e.close()


def _rollout(env, seed, init_state, n=20):
    env.reset(seed=seed, options={"init_state": init_state})
    states = []
    for _ in range(n):
        env.step(DOWN_RIGHT)
        d = env.sim.data._data
        states.append(np.concatenate([d.qpos, d.qvel]))
    return np.array(states), env.sim.model._model.body_pos.copy()


def test_spaces_and_dtypes(env):
    obs, info = env.reset(seed=0)
    assert env.action_space == gym.spaces.Box(-1.0, 1.0, (7,), np.float32)
    assert env.observation_space.contains(obs)
    assert "images" not in obs  # no camera asked for: nothing rendered
    assert env.unwrapped_libero.env.has_offscreen_renderer is False
    assert set(obs["privileged"]) == set(env.object_names)
    assert info["instruction"] == env.instruction == get_task("libero_spatial", 0).instruction
    assert info["init_state"] == 0 and info["seed"] == 0
    obs, reward, terminated, truncated, info = env.step(np.zeros(7, np.float32))
    assert env.observation_space.contains(obs)
    assert isinstance(reward, float) and not terminated and not truncated
    assert info["is_success"] is False and info["termination_reason"] is None


def test_check_env_passes(env):
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env, skip_render_check=True)
    bounds = [str(w.message) for w in caught if "infinity" in str(w.message)]
    assert not bounds, bounds  # every observation box has real bounds
    obs, _ = env.reset(seed=0)
    for _ in range(20):
        obs, *_ = env.step(DOWN_RIGHT)
        assert env.observation_space.contains(obs)


def test_default_init_state_follows_seed(env):
    _, info = env.reset(seed=57)
    assert info["init_state"] == 57 % len(env.init_states) == 7
    _, info = env.reset(seed=57, options={"init_state": 3})
    assert info["init_state"] == 3
    with pytest.raises(ValueError, match="init_state"):
        env.reset(seed=0, options={"init_state": 50})
    with pytest.raises(ValueError, match="unknown reset option"):
        env.reset(seed=0, options={"init_sate": 1})


def test_same_seed_and_init_state_give_identical_trajectories(env):
    a, fixtures_a = _rollout(env, seed=11, init_state=4)
    _rollout(env, seed=99, init_state=9)  # something else in between
    b, fixtures_b = _rollout(env, seed=11, init_state=4)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(fixtures_a, fixtures_b)
    # LIBERO places fixtures from the seeded RNG: another seed moves them.
    _, fixtures_c = _rollout(env, seed=12, init_state=4)
    assert np.abs(fixtures_a - fixtures_c).max() > 1e-4


def test_hard_reset_matches_soft_reset(env):
    soft, fixtures_soft = _rollout(env, seed=5, init_state=2)
    hard_env = LiberoEnv("libero_spatial", 0, cameras=(), hard_reset=True)
    try:
        hard, fixtures_hard = _rollout(hard_env, seed=5, init_state=2)
        hard2, _ = _rollout(hard_env, seed=5, init_state=2)
    finally:
        hard_env.close()
    np.testing.assert_array_equal(soft, hard)
    np.testing.assert_array_equal(hard, hard2)
    np.testing.assert_array_equal(fixtures_soft, fixtures_hard)


def test_global_numpy_rng_is_left_alone(env):
    np.random.seed(123)
    expected = np.random.rand()
    np.random.seed(123)
    env.reset(seed=1)
    assert np.random.rand() == expected


def test_placing_target_by_state_makes_success(env):
    env.reset(seed=0, options={"init_state": 0})
    rs = env.unwrapped_libero.env
    goal = rs.parsed_problem["goal_state"]
    assert goal == [["on", "akita_black_bowl_1", "plate_1"]]
    plate = env.sim.data._data.xpos[env.sim.model._model.body("plate_1_main").id].copy()
    joint = rs.objects_dict["akita_black_bowl_1"].joints[-1]
    rs.sim.data.set_joint_qpos(joint, np.concatenate([plate + np.array([0, 0, 0.03]), [1, 0, 0, 0]]))
    rs.sim.forward()
    info = {}
    for _ in range(15):  # let it settle onto the plate
        _, reward, terminated, _, info = env.step(np.array([0, 0, 0, 0, 0, 0, -1.0]))
        if terminated:
            break
    assert info["is_success"] is True and terminated and reward == 1.0
    assert info["termination_reason"] == "success"
    with pytest.raises(RuntimeError, match="reset"):
        env.step(np.zeros(7))


def test_not_placed_is_not_success(env):
    env.reset(seed=0, options={"init_state": 0})
    for _ in range(5):
        _, _, terminated, _, info = env.step(np.zeros(7))
    assert info["is_success"] is False and not terminated


@pytest.mark.parametrize(
    "bad",
    [np.zeros(6), np.zeros((7, 1)), [0, 0, np.nan, 0, 0, 0, 0], [np.inf] * 7, "forward"],
    ids=["short", "2d", "nan", "inf", "string"],
)
def test_bad_actions_raise_and_leave_the_episode_untouched(env, bad):
    env.reset(seed=3)
    env.step(np.zeros(7))
    before = env.sim.get_state().flatten().copy()
    steps = env._steps
    with pytest.raises(InvalidActionError):
        env.step(bad)
    np.testing.assert_array_equal(env.sim.get_state().flatten(), before)
    assert env._steps == steps
    env.step(np.zeros(7))  # the episode goes on


def test_step_limit_truncates():
    e = LiberoEnv("libero_spatial", 1, cameras=(), max_steps=5)
    try:
        e.reset(seed=0)
        for i in range(5):
            _, _, terminated, truncated, info = e.step(np.zeros(7))
            assert truncated == (i == 4) and not terminated
        assert info["termination_reason"] == "timeout" and info["step"] == 5
        assert "episode_collisions" in info
        assert e.unwrapped_libero.env.horizon == e.config.warmup_steps + 5
    finally:
        e.close()


def test_bad_names_give_clear_errors():
    with pytest.raises(KeyError, match="unknown LIBERO suite 'libero_100'"):
        get_task("libero_100", 0)
    with pytest.raises(KeyError, match="no task named 'pick_up_the_moon'"):
        get_task("libero_spatial", "pick_up_the_moon")
    with pytest.raises(IndexError, match=r"tasks 0\.\.9"):
        get_task("libero_spatial", 10)
    with pytest.raises(ValueError, match="unknown camera"):
        LiberoEnv("libero_spatial", 0, cameras=("frontview",))


def test_physics_error_ends_the_episode_and_the_next_one_is_fine(env):
    env.reset(seed=0)
    env.sim.data._data.qvel[:] = 1e12  # blow the simulation up
    _, _, terminated, _, info = env.step(np.zeros(7))
    assert terminated and info["termination_reason"] == "physics_error" and "error" in info
    a, _ = _rollout(env, seed=21, init_state=1, n=5)
    b, _ = _rollout(env, seed=21, init_state=1, n=5)
    assert np.all(np.isfinite(a))
    np.testing.assert_array_equal(a, b)


@pytest.mark.slow
@pytest.mark.parametrize("suite", SUITES)
def test_every_suite_builds_its_first_task(suite):
    e = LiberoEnv(suite, 0, cameras=())
    try:
        obs, info = e.reset(seed=0)
        assert info["instruction"] and e.max_steps == step_limit(suite)
        obs, *_ = e.step(np.zeros(7))
        assert e.observation_space.contains(obs)
    finally:
        e.close()


def test_gymnasium_ids_make_the_env():
    ids = register_envs(("libero_object",))
    assert len(ids) == 10 and ids[0] == env_id("libero_object", 0)
    e = gym.make(env_id("libero_object", 0), cameras=())
    try:
        assert e.spec.max_episode_steps == step_limit("libero_object") == 280
        _, info = e.reset(seed=0)
        assert info["task_index"] == 0
    finally:
        e.close()


@pytest.mark.render
def test_rendered_images_are_right_way_up():
    """A red object high above the table appears higher in the image than when it is low."""
    e = LiberoEnv("libero_spatial", 0, cameras=("agentview", "robot0_eye_in_hand"), image_size=64)
    try:
        assert e.observation_space["images"]["agentview"].shape == (64, 64, 3)
        e.reset(seed=0)
        rs = e.unwrapped_libero.env
        model = rs.sim.model._model
        bowl = model.body("akita_black_bowl_1_main").id
        for g in np.flatnonzero(model.geom_bodyid == bowl):
            model.geom_rgba[g] = [1, 0, 0, 1]
            model.geom_matid[g] = -1
        joint = rs.objects_dict["akita_black_bowl_1"].joints[-1]
        start = rs.sim.data.get_joint_qpos(joint).copy()
        rows = []
        for dz in (0.0, 0.35):
            rs.sim.data.set_joint_qpos(joint, start + np.r_[0, 0, dz, 0, 0, 0, 0])
            rs.sim.data.qvel[:] = 0
            rs.sim.forward()
            # One tiny step renders a fresh frame; gravity moves it < 1 mm in 0.05 s from rest.
            obs, *_ = e.step(np.zeros(7))
            img = obs["images"]["agentview"].astype(int)
            assert img.dtype == np.int64 and obs["images"]["robot0_eye_in_hand"].shape == (64, 64, 3)
            red = (img[..., 0] > 120) & (img[..., 1] < 60) & (img[..., 2] < 60)
            assert red.sum() > 3, "the red bowl is not visible"
            rows.append(np.argwhere(red)[:, 0].mean())
        assert rows[1] < rows[0] - 2, f"lifted object should move up the image, rows {rows}"
    finally:
        e.close()
