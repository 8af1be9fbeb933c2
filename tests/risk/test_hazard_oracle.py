"""The hazard-specific clearance oracle on real LIBERO: it sees an inserted obstacle coming, and only that."""

from __future__ import annotations

import numpy as np
import pytest

from mistvla.harness.envs.libero import LiberoEnv
from mistvla.harness.envs.wrappers.base import wrap
from mistvla.harness.errors import ConfigError
from mistvla.harness.risk.base import RiskConfig, make_risk_source

DOWN = np.array([0.0, 0.0, -1.0, 0.0, 0.0, 0.0, -1.0])


@pytest.fixture(scope="module")
def env():
    e = LiberoEnv("libero_spatial", 0, cameras=(), privileged=True, warmup_steps=2, max_steps=60)
    yield e
    e.close()


def _oracle(**params):
    return make_risk_source(RiskConfig(source="oracle", params=params))


def test_obstacles_only_is_silent_without_obstacles(env):
    obs, _ = env.reset(seed=0, options={"init_state": 0})
    hazard, everything = _oracle(hazards="obstacles", margin=0.3), _oracle(margin=0.3)
    hazard.reset(env)
    everything.reset(env)
    assert hazard.risk(obs).score == 0.0 and everything.risk(obs).score > 0.0  # the table is within 30 cm


def test_the_risk_rises_before_the_arm_touches_an_obstacle(env):
    w = wrap(env, "obstacle", 3, seed=1)
    obs, info = w.reset(seed=0, options={"init_state": 0})
    name = env.scene.installed[0].name
    model_rs = env.unwrapped_libero.env
    surface = model_rs.sim.data.get_body_xpos(
        model_rs.objects_dict[info["perturbation"]["params"]["path"]["object"]].root_body
    )
    eef = obs["proprio"]["eef_pos"]
    env.scene.place(env.sim.data._data, name, [eef[0], eef[1], surface[2] - 0.03])  # right under the gripper
    env.sim.forward()
    env._obstacles.reset(env.sim, {name: env.scene.body_id[name], **env.scene.placed_obstacles()})
    oracle = _oracle(hazards="obstacles", held_object=True, margin=0.05)
    oracle.reset(env)
    risks, contact = [], None
    for t in range(40):
        risks.append(oracle.risk(obs))
        obs, _, term, trunc, step = w.step(DOWN)
        if contact is None and any(c["other_owner"] == name for c in step["collisions"]["contacts"]):
            contact = t
        if term or trunc or contact is not None:
            break
    w.restore()
    assert contact is not None
    first = next(t for t, r in enumerate(risks) if r.score > 0)
    assert first < contact - 3, (first, contact)  # seen coming several steps ahead
    assert int(np.argmax(risks[contact].per_dim[:6])) == 2  # the obstacle is below: z is the risky axis
    assert risks[contact].direction is not None and risks[0].direction is None  # none out of range
    assert abs(float(np.linalg.norm(risks[contact].direction)) - 1.0) < 1e-5


def test_bad_hazard_options_name_the_field():
    with pytest.raises(ConfigError, match=r"^risk\.params: hazards must be one of all, obstacles, got 'x'$"):
        _oracle(hazards="x")
    with pytest.raises(ConfigError, match=r"^risk\.params: held_object needs hazards: obstacles"):
        _oracle(held_object=True)
