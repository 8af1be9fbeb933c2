import itertools

import numpy as np
from wrapper_helpers import psnr_by_level, rollout

from mistvla.harness.envs.wrappers.camera import CameraPerturbation


def test_psnr_falls_with_level_and_wrist_camera_is_untouched(env):
    values = psnr_by_level(env, CameraPerturbation)
    assert all(a > b for a, b in itertools.pairwise(values)), values
    model = env.sim.model._model
    wrist = env.sim.model.camera_name2id("robot0_eye_in_hand")
    before = model.cam_pos[wrist].copy(), model.cam_quat[wrist].copy()
    wrapped = CameraPerturbation(env, level=5)
    wrapped.reset(seed=0, options={"init_state": 0})
    agent = env.sim.model.camera_name2id("agentview")
    pivot = np.array([0.0, 0.0, 0.8])
    ratio = np.linalg.norm(model.cam_pos[agent] - pivot) / np.linalg.norm(wrapped._saved[0][3] - pivot)
    assert np.isclose(ratio, wrapped.params["distance_scale"])
    assert np.array_equal(model.cam_pos[wrist], before[0]) and np.array_equal(
        model.cam_quat[wrist], before[1]
    )
    wrapped.restore()
    rollout(env)
