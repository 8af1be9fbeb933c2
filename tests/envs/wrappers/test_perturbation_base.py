"""Every registered perturbation: level 0 bit-identical to no wrapper, reproducible, restorable."""

from __future__ import annotations

import json

import numpy as np
import pytest
from wrapper_helpers import MOVE, rollout, same_obs

from mistvla.harness.envs.wrappers.base import PERTURBATIONS, perturbation_class, wrap
from mistvla.harness.errors import ConfigError

NAMES = PERTURBATIONS.names()
MODEL_FIELDS = (
    "cam_pos",
    "cam_quat",
    "light_diffuse",
    "light_dir",
    "mat_rgba",
    "geom_matid",
    "body_mass",
    "geom_friction",
)


@pytest.fixture(scope="module")
def clean(env):
    return rollout(env, [MOVE])


def test_every_perturbation_has_five_documented_levels():
    for name in NAMES:
        cls = perturbation_class(name)
        assert sorted(cls.LEVELS) == [1, 2, 3, 4, 5], name
        assert cls.name == name


@pytest.mark.parametrize("name", NAMES)
def test_level0_is_bit_identical_and_level3_is_reproducible_and_restored(env, clean, name):
    off = rollout(wrap(env, name, 0), [MOVE])
    assert all(same_obs(a[0], b[0]) for a, b in zip(clean, off, strict=True))
    assert "perturbation" not in off[0][1]
    model = env.sim.model._model
    fields = {f: getattr(model, f).copy() for f in MODEL_FIELDS}
    first = rollout(wrap(env, name, 3, seed=1), [MOVE])
    again = rollout(wrap(env, name, 3, seed=1))
    record = first[0][1]["perturbation"]
    assert record["name"] == name and record["level"] == 3
    json.dumps(record)  # goes into the episode record
    assert record == again[0][1]["perturbation"]
    assert same_obs(first[0][0], again[0][0])
    assert all(np.array_equal(fields[f], getattr(model, f)) for f in MODEL_FIELDS)  # restore() put it back


def test_bad_level_and_bad_option_are_refused(env):
    with pytest.raises(ValueError, match="level"):
        wrap(env, "camera", 6)
    with pytest.raises(ConfigError, match="corruption must be one of"):
        wrap(env, "sensor_noise", 1, params={"corruption": "snow"})
