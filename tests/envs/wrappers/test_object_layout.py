import numpy as np

from mistvla.harness.envs.wrappers.object_layout import ObjectLayoutPerturbation, deep_contacts


def test_objects_move_by_the_level_shift_without_interpenetration(env):
    rs = env.unwrapped_libero.env
    env.reset(seed=0, options={"init_state": 0})
    names = list(rs.objects_dict)
    before = {n: env.sim.data.get_body_xpos(rs.objects_dict[n].root_body).copy() for n in names}
    wrapped = ObjectLayoutPerturbation(env, level=3)
    _, info = wrapped.reset(seed=0, options={"init_state": 0})
    params = info["perturbation"]["params"]
    assert not params["placement_failed"]
    shifts = [
        np.linalg.norm(env.sim.data.get_body_xpos(rs.objects_dict[n].root_body)[:2] - before[n][:2])
        for n in names
    ]
    assert np.median(shifts) > 0.015, shifts  # 3 cm requested, some settling allowed
    model, data = env.sim.model._model, env.sim.data._data
    assert all(
        c[0] == 0 or c[1] == 0 or 0 in c for c in deep_contacts(data, model, tol=0.01)
    ) or not deep_contacts(data, model, tol=0.01)
