import numpy as np
from wrapper_helpers import MOVE, rollout

from mistvla.harness.envs.wrappers.controller_gains import ControllerGains


def test_gains_scaled_for_one_episode_and_the_arm_moves_differently(env):
    clean = rollout(env, [MOVE, MOVE, MOVE])
    kp = np.asarray(env.unwrapped_libero.env.robots[0].controller.kp).copy()
    wrapped = ControllerGains(env, level=3)
    out = rollout(wrapped, [MOVE, MOVE, MOVE])
    factor = out[0][1]["perturbation"]["params"]["kp_factor"]
    assert factor in (0.5, 2.0)
    assert np.allclose(out[0][1]["perturbation"]["params"]["kp"], kp * factor)
    gap = np.linalg.norm(out[-1][0]["proprio"]["eef_pos"] - clean[-1][0]["proprio"]["eef_pos"])
    assert gap > 1e-3
    rollout(env)
    assert np.array_equal(env.unwrapped_libero.env.robots[0].controller.kp, kp)  # rebuilt at reset
