"""A lifted target that slips out of the gripper is an ``object_dropped`` termination."""

import numpy as np

from mistvla.harness.envs.libero import LiberoEnv
from mistvla.policies.registry import make_policy


def test_opening_the_gripper_in_transport_drops_the_target():
    env = LiberoEnv("libero_spatial", 0, cameras=(), privileged=True, terminate_on_drop=True)
    policy = make_policy("scripted")
    try:
        obs, _ = env.reset(seed=0, options={"init_state": 0})
        policy.bind(env)
        policy.reset(env.instruction, seed=0)
        info = {}
        for _ in range(200):  # the expert grasps and lifts the bowl
            obs, _, terminated, truncated, info = env.step(policy.select_action(obs))
            assert not (terminated or truncated), info["termination_reason"]
            if policy.phase == "transport":
                break
        assert policy.phase == "transport"
        for _ in range(10):  # keep carrying a little higher
            obs, _, terminated, _, info = env.step(np.array([0, 0, 0.5, 0, 0, 0, 1.0]))
        assert not terminated and info["dropped"] == []
        reasons = []
        for _ in range(30):  # let go in mid-air
            obs, _, terminated, _, info = env.step(np.array([0, 0, 0, 0, 0, 0, -1.0]))
            reasons.append(info["termination_reason"])
            if terminated:
                break
        assert info["termination_reason"] == "object_dropped", reasons
        assert info["dropped"] == ["akita_black_bowl_1"]
        assert info["is_success"] is False
    finally:
        env.close()
