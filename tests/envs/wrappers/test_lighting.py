import itertools

from wrapper_helpers import psnr_by_level

from mistvla.harness.envs.wrappers.lighting import LightingPerturbation


def test_psnr_falls_with_level(env):
    for seed in (1,):
        values = psnr_by_level(env, LightingPerturbation, seed=seed)
        assert all(a > b for a, b in itertools.pairwise(values)), (seed, values)
