"""Every registered policy is built one way: ``policy.params`` parsed into its ``Config``, then ``from_config``.

The ``Config`` is what a run config may set; the constructor is what Python
callers use. They must agree (same names, same defaults), or YAML and Python
would build different policies: this test holds every registered kind to it.
"""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from mistvla.harness.errors import ConfigError
from mistvla.harness.typed import NoParams
from mistvla.policies.params import policy_config
from mistvla.policies.registry import POLICIES, make_policy, policy_class


@pytest.mark.parametrize("name", POLICIES.names())
def test_config_fields_are_constructor_parameters_with_the_same_defaults(name: str) -> None:
    cls = policy_class(name)
    assert dataclasses.is_dataclass(cls.Config), f"{name}: Config must be a dataclass"
    params = inspect.signature(cls.__init__).parameters
    fields = dataclasses.fields(cls.Config)
    if cls.Config is NoParams:
        assert [p for p in params if p != "self"] == [], f"{name} takes parameters but declares none"
    for f in fields:
        assert f.name in params, f"{name}.Config.{f.name} is not a constructor parameter"
        default = params[f.name].default
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            assert default is inspect.Parameter.empty, f"{name}.{f.name}: required in Config only"
        else:
            assert default == f.default, f"{name}.{f.name}: default {default!r} != Config's {f.default!r}"
    required = {k for k, p in params.items() if k != "self" and p.default is inspect.Parameter.empty}
    assert required <= {f.name for f in fields}, f"{name}: required constructor parameters missing in Config"


def test_random_policy_is_built_from_its_config() -> None:
    policy = make_policy("random", seed=4, scale=0.5)
    assert (policy.seed, policy.scale) == (4, 0.5)


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("random", {"sed": 1}, r"^policy\.params\.sed: unknown key \(known: scale, seed\)$"),
        ("random", {"seed": "x"}, r"^policy\.params\.seed: expected int, got str 'x'$"),
        ("random", {"scale": 0}, r"^policy\.params: scale must be in \(0, 1\], got 0\.0$"),
        ("reference", {}, r"^policy\.params\.checkpoint: required key is missing$"),
        ("reference", {"checkpoint": "c", "pose_noise": -1}, r"^policy\.params: pose_noise must be >= 0"),
        ("reference", {"checkpoint": "c", "capture": {"points": []}}, r"^policy\.params\.capture: points"),
        ("scripted", {"perturbation": {"nope": 1}}, r"^policy\.params\.perturbation\.nope: unknown key"),
        ("scripted", {"hover": True}, r"^policy\.params\.hover: expected a number"),
        ("replay", {"actions": [[0, "a"]]}, r"^policy\.params\.actions\[0\]\[1\]: expected a number"),
    ],
)
def test_bad_params_name_the_field(name: str, params: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        policy_config(policy_class(name), params)


def test_config_errors_come_before_any_model_is_loaded(tmp_path) -> None:
    with pytest.raises(ConfigError, match=r"policy\.params\.unnorm_kee: unknown key"):
        make_policy("openvla", checkpoint=str(tmp_path / "absent"), unnorm_kee="x")
