import numpy as np
from wrapper_helpers import rollout, visual_fields

from mistvla.harness.envs.wrappers.robot_init import RobotInitPerturbation


def test_arm_starts_offset_by_the_level_magnitude(env):
    idx = env.unwrapped_libero.env.robots[0]._ref_joint_pos_indexes
    clean = rollout(env)
    q0 = env.sim.data._data.qpos[idx].copy()
    fields = visual_fields(env)
    wrapped = RobotInitPerturbation(env, level=4, seed=3)
    obs, info = wrapped.reset(seed=0, options={"init_state": 0})
    offset = env.sim.data._data.qpos[idx] - q0
    assert abs(np.linalg.norm(offset) - 0.4) < 0.05  # held through the warm-up (clipping aside)
    assert np.linalg.norm(obs["proprio"]["eef_pos"] - clean[0][0]["proprio"]["eef_pos"]) > 0.01
    after = visual_fields(env)
    assert all(np.array_equal(fields[k], after[k]) for k in fields)  # the rendering is not touched
    assert info["perturbation"]["params"]["offset_rad"] == 0.4
