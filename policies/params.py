"""A policy's parameters (``policy.params``) parsed into its ``Config``, before anything runs.

Every registered policy declares a ``Config`` dataclass (as risk sources,
interventions and perturbations do); its fields are checked for unknown keys,
types and values with their dotted path, and the policy is then built from it
(:meth:`~mistvla.policies.base.Policy.from_config`).

>>> from mistvla.policies.simple import RandomPolicy
>>> policy_config(RandomPolicy, {"seed": 3})
RandomPolicy.Config(seed=3, scale=1.0)
>>> policy_config(RandomPolicy, {"sed": 3})
Traceback (most recent call last):
...
mistvla.harness.errors.ConfigError: policy.params.sed: unknown key (known: scale, seed)
>>> policy_config(RandomPolicy, {"scale": 2})
Traceback (most recent call last):
...
mistvla.harness.errors.ConfigError: policy.params: scale must be in (0, 1], got 2.0
"""

from __future__ import annotations

from typing import Any

from mistvla.harness.typed import from_dict


def policy_config(cls: type, params: dict[str, Any]) -> Any:
    """``params`` parsed into ``cls.Config`` (nested configs built, every error naming its field)."""
    return from_dict(cls.Config, params, "policy.params")
