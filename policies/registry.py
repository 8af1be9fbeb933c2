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


def make_policy(name: str, **kwargs: Any) -> Any:
    """Build the policy registered under ``name`` with keyword arguments."""
    return resolve(name)(**kwargs)
