"""Checking a policy's parameters (``policy.params``) against its constructor, before anything runs.

>>> from mistvla.policies.simple import RandomPolicy
>>> policy_kwargs(RandomPolicy, "random", {"seed": 3})
{'seed': 3}
>>> policy_kwargs(RandomPolicy, "random", {"sed": 3})
Traceback (most recent call last):
...
mistvla.harness.errors.ConfigError: policy.params.sed: unknown parameter of 'random' (known: seed, scale)
"""

from __future__ import annotations

import dataclasses
import inspect
import typing
from typing import Any

from mistvla.harness.errors import ConfigError
from mistvla.harness.typed import from_dict


def policy_kwargs(cls: type, name: str, params: dict[str, Any]) -> dict[str, Any]:
    """``params`` checked against the constructor of ``cls`` (registered as ``name``), nested config objects built.

    A mapping given for a parameter annotated with a dataclass (e.g. the
    scripted expert's ``perturbation``) becomes that dataclass, validated
    strictly. Unknown parameters are an error naming them.
    """
    sig = inspect.signature(cls.__init__)
    accepts_any = any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())
    known = [k for k, p in sig.parameters.items() if k != "self" and p.kind is not p.VAR_KEYWORD]
    hints = typing.get_type_hints(cls.__init__)
    out = {}
    for key, value in params.items():
        if key not in sig.parameters and not accepts_any:
            raise ConfigError(
                f"policy.params.{key}: unknown parameter of {name!r} (known: {', '.join(known)})"
            )
        hint = hints.get(key)
        targets = [hint, *typing.get_args(hint)] if hint is not None else []
        dc = next((t for t in targets if dataclasses.is_dataclass(t)), None)
        out[key] = from_dict(dc, value, f"policy.params.{key}") if dc and isinstance(value, dict) else value
    missing = [
        k
        for k, p in sig.parameters.items()
        if k != "self"
        and p.default is p.empty
        and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
        and k not in out
    ]
    if missing:
        raise ConfigError(f"policy.params.{missing[0]}: required parameter of {name!r} is missing")
    return out
