"""The obstacle perturbation on real LIBERO: identity at level 0, real colliding bodies, the placement rule."""

from __future__ import annotations

import numpy as np
import pytest
from wrapper_helpers import rollout, same_obs

from mistvla.harness.envs.libero import LiberoEnv
from mistvla.harness.envs.wrappers.base import perturbation_options, wrap
from mistvla.harness.envs.wrappers.object_layout import deep_contacts
from mistvla.harness.envs.wrappers.scene_path import body_footprint
from mistvla.harness.errors import ConfigError

DOWN = np.array([0.0, 0.0, -1.0, 0.0, 0.0, 0.0, -1.0])


@pytest.fixture(scope="module")
def env():
    e = LiberoEnv("libero_spatial", 0, cameras=(), privileged=True, warmup_steps=2, max_steps=60)
    yield e
    e.close()


def test_level0_and_clean_episodes_after_obstacles_are_bit_identical(env):
    actions = [DOWN * 0.3] * 3
    clean = rollout(env, actions)
    assert all(
        same_obs(a[0], b[0]) for a, b in zip(clean, rollout(wrap(env, "obstacle", 0), actions), strict=True)
    )
    nq = env.sim.model._model.nq
    rollout(wrap(env, "obstacle", 5), actions)  # the model now carries the obstacles
    assert env.sim.model._model.nq > nq
    again = rollout(env, actions)  # a clean reset rebuilds the original model
    assert env.sim.model._model.nq == nq
    assert all(same_obs(a[0], b[0]) for a, b in zip(clean, again, strict=True))


def test_placement_is_seeded_and_keeps_clearance_from_object_and_goal(env):
    model_rs = env.unwrapped_libero.env
    records = []
    for seed in range(4):
        w = wrap(env, "obstacle", 5, seed=seed)
        _, info = w.reset(seed=0, options={"init_state": seed})
        params = info["perturbation"]["params"]
        records.append(params)
        model, data = env.sim.model._model, env.sim.data._data
        objs = {**model_rs.objects_dict, **model_rs.fixtures_dict}
        keep = []
        for name in (params["path"]["object"], params["path"]["goal"]):
            keep.append(body_footprint(model, data, model.body(objs[name].root_body).id))
        for slot in params["slots"]:
            if not slot["placed"]:
                continue
            centre, radius, _ = body_footprint(model, data, env.scene.body_id[slot["name"]])
            for c, r, _ in keep:
                assert np.linalg.norm(centre - c) >= radius + r + 0.03 - 0.005, (seed, slot)
        ids = set(env.scene.placed_obstacles().values())
        assert not [
            pair for pair in deep_contacts(data, model, tol=0.005) if ids & set(pair)
        ]  # inside nothing
        w.restore()
    assert any(p["n_placed"] > 0 for p in records)
    again = wrap(env, "obstacle", 5, seed=0).reset(seed=0, options={"init_state": 0})[1]
    assert again["perturbation"]["params"] == records[0]


def test_obstacles_are_colliding_bodies_and_a_push_is_detected(env):
    w = wrap(env, "obstacle", 3, seed=1)
    obs, info = w.reset(seed=0, options={"init_state": 0})
    name = env.scene.installed[0].name
    body = env.scene.body_id[name]
    model, data = env.sim.model._model, env.sim.data._data
    assert model.body_jntnum[body] == 1 and model.jnt_type[model.body_jntadr[body]] == 0  # one free joint
    # put the obstacle right under the gripper and drive the arm down into it
    eef = obs["proprio"]["eef_pos"]
    surface = info["perturbation"]["params"]["path"]
    env.scene.place(
        data,
        name,
        [
            eef[0],
            eef[1],
            env.unwrapped_libero.env.sim.data.get_body_xpos(
                env.unwrapped_libero.env.objects_dict[surface["object"]].root_body
            )[2]
            - 0.03,
        ],
    )
    env.sim.forward()
    env._obstacles.reset(env.sim, {name: body, **env.scene.placed_obstacles()})
    classes, contact_kinds = set(), set()
    for _ in range(25):
        _, _, term, trunc, step_info = w.step(DOWN)
        for c in step_info["collisions"]["contacts"]:
            if c["other_owner"] == name:
                classes.add(c["other_class"])
                contact_kinds.add(c["kind"])
        if term or trunc:
            break
    summary = env.episode_collision_summary()["obstacle"]
    assert classes == {"obstacle"} and "collision" in contact_kinds
    assert summary["collided"] and name in summary["touched"]
    assert summary["max_displacement_m"] > 0.001 and summary["first_displaced_step"] is not None
    w.restore()


def test_bad_parameters_name_the_field():
    with pytest.raises(
        ConfigError, match=r"^sweep\.params: assets\[1\]: unknown LIBERO object asset 'teapot'"
    ):
        perturbation_options("obstacle", {"assets": ["milk", "teapot", "ketchup"]}, "sweep.params")
    with pytest.raises(ConfigError, match=r"^sweep\.params: clearance_m must be >= 0"):
        perturbation_options("obstacle", {"clearance_m": -0.02}, "sweep.params")


def test_distractors_sit_off_the_path_and_are_plain_objects_to_the_ledger(env):
    from mistvla.harness.envs.wrappers.scene_path import distance_to_segment

    w = wrap(env, "distractor", 5, seed=3)
    _, info = w.reset(seed=0, options={"init_state": 1})
    params = info["perturbation"]["params"]
    assert params["n_placed"] >= 3, params
    p = params["path"]
    segments = [np.array([p["start_xy"], p["object_xy"]]), np.array([p["object_xy"], p["goal_xy"]])]
    model, data = env.sim.model._model, env.sim.data._data
    for slot in (s for s in params["slots"] if s["placed"]):
        centre, radius, _ = body_footprint(model, data, env.scene.body_id[slot["name"]])
        assert min(distance_to_segment(centre, seg) for seg in segments) >= radius + 0.08 - 0.01
    classes = env._ledger.classes
    body = env.scene.body_id[params["slots"][0]["name"]]
    assert classes.body_owner[body] == params["slots"][0]["name"] and classes.body_class[body] == 7  # object
    assert "obstacle" not in env.episode_collision_summary()  # distractors are not obstacles
    w.restore()


def test_the_episode_record_carries_the_obstacle_fields(env):
    from mistvla.harness.interventions.base import InterventionConfig, make_intervention
    from mistvla.harness.results.identity import EpisodeId
    from mistvla.harness.results.validation import validate_episode
    from mistvla.harness.risk.constant import ConstantConfig, ConstantRisk
    from mistvla.harness.run.episode import run_episode
    from mistvla.harness.run.plan import EpisodeSpec
    from mistvla.policies.simple import ReplayPolicy

    spec = EpisodeSpec(EpisodeId("replay", "none", "libero_spatial", 0, init_state=0, seed=0, perturbation="obstacle",
                                 perturbation_level=5))  # fmt: skip
    none, risk = make_intervention(InterventionConfig.make("none"), None), ConstantRisk(ConstantConfig(0.0))
    hold = np.tile(np.array([0, 0, 0, 0, 0, 0, -1.0], dtype=np.float32), (5, 1))
    w = wrap(env, "obstacle", 5)
    rec = run_episode(w, ReplayPolicy(hold), none, risk, spec).record
    w.restore()
    assert rec["obstacle_collided"] is False and rec["first_obstacle_step"] is None  # resting, untouched
    assert 0.0 <= rec["max_obstacle_displacement_m"] < 0.001
    assert rec["disturbance_step"] is None
    validate_episode({**rec, "schema_version": 4, "run_id": "r", "episode_key": "k"})
    clean = run_episode(env, ReplayPolicy(hold), none, risk, EpisodeSpec(EpisodeId("replay", "none", "libero_spatial", 0,
                        init_state=0, seed=0))).record  # fmt: skip
    assert clean["obstacle_collided"] is None and clean["max_obstacle_displacement_m"] is None


def test_no_obstacle_is_placed_into_a_task_object_and_all_rest_after_the_warmup():
    """libero_object task 0, init 40, L3, seed 0 put a porcelain mug 1 mm into ``butter_1`` (under the 3 mm
    rule): it was thrown up, fell over and still rolled when the episode began, a collision at step 0."""
    from mistvla.harness.envs.wrappers.obstacle import touches_free_body

    e = LiberoEnv("libero_object", 0, cameras=(), privileged=True, warmup_steps=10, max_steps=60)
    try:
        w = wrap(e, "obstacle", 3, seed=0)
        w.reset(seed=0, options={"init_state": 40})
        model, data = e.sim.model._model, e.sim.data._data
        ids = e.scene.placed_obstacles()
        assert ids and not any(touches_free_body(data, model, b) for b in ids.values())
        start = {n: data.xpos[b].copy() for n, b in ids.items()}
        for _ in range(3):
            w.step(np.array([0, 0, 0, 0, 0, 0, -1.0]))
        assert max(np.linalg.norm(data.xpos[b] - start[n]) for n, b in ids.items()) < 0.001
        mug = e.scene.body_id["obstacle_3"]  # where it went before: the check sees the touch
        e.scene.place(data, "obstacle_3", [-0.2212, -0.0519, 0.0], 1.9440554725020478)
        e.sim.forward()
        assert touches_free_body(data, model, mug)
        w.restore()
    finally:
        e.close()
