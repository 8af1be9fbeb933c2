"""Resolve policy names to classes lazily, through ``"module:Class"`` strings.

Heavy model code (transformers, LeRobot) is imported only when its policy is
asked for; a missing optional dependency is reported with the extra to install.

>>> sorted(POLICIES)[:3]
['openvla', 'random', 'replay']
>>> resolve("nope")
Traceback (most recent call last):
...
KeyError: "unknown policy 'nope'; known: openvla, random, replay, scripted, smolvla"
"""

from __future__ import annotations

import importlib
from typing import Any

# name -> (module:Class, extra that provides its dependencies or None)
POLICIES: dict[str, tuple[str, str | None]] = {
    "openvla": ("mistvla.policies.openvla:OpenVLAPolicy", "openvla"),
    "random": ("mistvla.policies.simple:RandomPolicy", None),
    "replay": ("mistvla.policies.simple:ReplayPolicy", None),
    "scripted": ("mistvla.policies.scripted_expert:ScriptedExpert", None),
    "smolvla": ("mistvla.policies.smolvla:SmolVLAPolicy", "smolvla"),
}


def resolve(name: str) -> type:
    """Import and return the policy class registered under ``name``."""
    if name not in POLICIES:
        raise KeyError(f"unknown policy {name!r}; known: {', '.join(sorted(POLICIES))}")
    target, extra = POLICIES[name]
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if extra is None or (err.name or "").startswith("mistvla"):
            raise
        raise ModuleNotFoundError(
            f"policy {name!r} needs the optional dependency {err.name!r}; "
            f"install it with: pip install 'mistvla[{extra}]'"
        ) from err
    return getattr(module, class_name)


def policy_kwargs(name: str, params: dict[str, Any]) -> dict[str, Any]:
    """Check ``params`` against the policy's constructor and build nested config objects.

    A mapping given for a parameter annotated with a dataclass (e.g. the
    scripted expert's ``perturbation``) becomes that dataclass, validated
    strictly. Unknown parameters are an error naming them.
    """
    import dataclasses
    import inspect
    import typing

    from ..harness.typed_config import ConfigError, from_dict

    cls = resolve(name)
    sig = inspect.signature(cls.__init__)
    accepts_any = any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())
    known = [k for k in sig.parameters if k != "self"]
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
    return out


def make_policy(name: str, **kwargs: Any) -> Any:
    """Build the policy registered under ``name`` with keyword arguments (see :func:`policy_kwargs`)."""
    return resolve(name)(**policy_kwargs(name, kwargs))
