import itertools

import numpy as np
import pytest
from wrapper_helpers import MOVE, image, psnr, rollout

from mistvla.harness.envs.wrappers.sensor_noise import CORRUPTIONS, SensorNoise, corrupt


@pytest.mark.parametrize("kind", CORRUPTIONS)
def test_psnr_falls_with_severity(env, kind):
    clean = image(rollout(env)[0][0])
    values = [psnr(corrupt(clean, kind, s, np.random.default_rng(0)), clean) for s in range(1, 6)]
    assert all(a > b for a, b in itertools.pairwise(values)), values


def test_only_the_images_change(env):
    clean = rollout(env, [MOVE])
    noisy = rollout(SensorNoise(env, level=2), [MOVE])
    for (a, _), (b, _) in zip(clean, noisy, strict=True):
        assert psnr(image(b), image(a)) < 30
        assert all(np.array_equal(a["proprio"][k], b["proprio"][k]) for k in a["proprio"])
