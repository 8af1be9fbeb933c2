import numpy as np
from wrapper_helpers import rollout

from mistvla.harness.envs.wrappers.object_dynamics import ObjectDynamics


def test_masses_and_frictions_scaled_then_restored(env):
    rs = env.unwrapped_libero.env
    model = env.sim.model._model
    rollout(env)
    mass, friction = model.body_mass.copy(), model.geom_friction.copy()
    wrapped = ObjectDynamics(env, level=3)
    _, info = wrapped.reset(seed=0, options={"init_state": 0})
    factors = info["perturbation"]["params"]["factors"]
    for name, obj in rs.objects_dict.items():
        b = env.sim.model.body_name2id(obj.root_body)
        assert np.isclose(model.body_mass[b], mass[b] * factors[name]["mass"])
        assert factors[name]["mass"] in (0.5, 2.0)
    robot_body = env.sim.model.body_name2id(rs.robots[0].robot_model.root_body)
    assert model.body_mass[robot_body] == mass[robot_body]
    wrapped.restore()
    assert np.array_equal(model.body_mass, mass) and np.array_equal(model.geom_friction, friction)
