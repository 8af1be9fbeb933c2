import numpy as np
from wrapper_helpers import MOVE, rollout, same_obs

from mistvla.harness.envs.wrappers.actuation_noise import ActuationNoise


def test_noise_moves_the_arm_off_the_clean_path_and_leaves_the_reset_alone(env):
    clean = rollout(env, [MOVE, MOVE])
    noisy = rollout(ActuationNoise(env, level=5), [MOVE, MOVE])
    assert same_obs(noisy[0][0], clean[0][0])
    gap = np.linalg.norm(noisy[-1][0]["proprio"]["eef_pos"] - clean[-1][0]["proprio"]["eef_pos"])
    assert gap > 1e-4
