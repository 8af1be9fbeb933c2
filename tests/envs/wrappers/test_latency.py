import numpy as np
from wrapper_helpers import MOVE, rollout, same_obs

from mistvla.harness.envs.wrappers.latency import NOOP, ActionLatency


def test_delay_k_executes_k_noops_then_the_actions(env):
    other = np.array([-0.5, 0.5, 0.0, 0.1, 0.0, 0.0, 1.0])
    delayed = rollout(ActionLatency(env, level=2), [MOVE, other, other])
    reference = rollout(env, [NOOP, NOOP, MOVE])
    assert same_obs(delayed[-1][0], reference[-1][0])
    assert not same_obs(rollout(env, [MOVE, other, other])[-1][0], delayed[-1][0])
