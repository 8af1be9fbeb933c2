"""Policy names -> classes, resolved lazily (heavy model code is imported only when asked for).

A missing optional dependency is reported with the extra to install. Each policy's
parameters are its ``Config`` (:mod:`mistvla.policies.params`).

>>> POLICIES.names()[:3]
['openvla', 'random', 'reference']
>>> issubclass(policy_class("scripted"), Policy)
True
"""

from __future__ import annotations

from typing import Any

from mistvla.harness.registry import LazyRegistry
from mistvla.policies.base import Policy
from mistvla.policies.params import policy_config

POLICIES = LazyRegistry(
    "policy",
    {
        "openvla": ("mistvla.policies.openvla.policy:OpenVLAPolicy", "openvla"),
        "random": ("mistvla.policies.simple:RandomPolicy", None),
        "replay": ("mistvla.policies.simple:ReplayPolicy", None),
        "reference": ("mistvla.policies.reference.policy:ReferencePolicy", None),
        "scripted": ("mistvla.policies.scripted.expert:ScriptedExpert", None),
        "smolvla": ("mistvla.policies.smolvla.policy:SmolVLAPolicy", "smolvla"),
        "smolvla_scratch": ("mistvla.policies.smolvla.scratch_policy:ScratchSmolVLAPolicy", "smolvla"),
    },
)


def policy_class(name: str) -> type[Policy]:
    """The policy class registered under ``name`` (or named ``"package.module:Class"``)."""
    return POLICIES.resolve_class(name, Policy)


def make_policy(name: str, **params: Any) -> Policy:
    """Build the policy registered under ``name`` from its ``policy.params``, parsed into its ``Config`` first."""
    cls = policy_class(name)
    return cls.from_config(policy_config(cls, params))
