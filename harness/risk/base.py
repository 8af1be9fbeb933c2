"""The risk-source contract and registry: a scalar risk (and optionally one per action dimension) each step.

A risk source is reset with the env at each episode start and asked for the
step's risk from the observation before the policy acts. Each kind declares
its own config dataclass (``Config``), validated from the run config's
``risk.params``, and what it offers (``per_dim``) and needs
(``needs_privileged``), so that incompatible runs are refused before anything
runs.

>>> src = make_risk_source(RiskConfig("constant", {"value": 0.3}))
>>> src.reset(env=None)
>>> src.risk(obs={}).score
0.3
>>> make_risk_source(RiskConfig("constant", {"valu": 0.3}))
Traceback (most recent call last):
...
mistvla.harness.errors.ConfigError: risk.params.valu: unknown key (known: value)
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from mistvla.harness.registry import LazyRegistry
from mistvla.harness.typed import NoParams, from_dict


@dataclass
class RiskSignal:
    """A step's risk: a scalar gate score and optionally one score per action dimension."""

    score: float
    per_dim: np.ndarray | None = None
    direction: np.ndarray | None = None
    """(3,) unit vector (world frame = the action's translation axes) from the robot toward the nearest
    hazard, when the source knows it (the clearance oracle within its margin), else None."""


@dataclass
class RiskConfig:
    """``risk:`` in a run config: the registered source's name and its parameters."""

    source: str = "oracle"
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.source not in RISK_SOURCES:
            raise ValueError(
                f"unknown risk source {self.source!r}; known: {', '.join(RISK_SOURCES.names())} "
                "(or a 'package.module:Class' name)"
            )


class RiskSource(abc.ABC):
    """Interface: ``reset(env)`` at each episode start, ``risk(obs)`` before each policy step."""

    Config: ClassVar[type] = NoParams
    per_dim: ClassVar[bool] = False
    """True when :attr:`RiskSignal.per_dim` is filled (needed by ``damp`` and ``steer``)."""
    direction: ClassVar[bool] = False
    """True when :attr:`RiskSignal.direction` is filled (needed by ``repel`` and ``steer`` with ``target: away``)."""
    needs_privileged: ClassVar[bool] = False
    """True when the source reads simulator state (the env is then built with privileged observations)."""
    needs_hidden: ClassVar[bool] = False
    """True when the source scores this step's hidden state: the runner asks for it after the policy's
    forward pass and before the action is executed, with ``obs["hidden"]`` (docs/running.md)."""

    def __init__(self, config: Any = None) -> None:
        self.config = config if config is not None else self.Config()

    @abc.abstractmethod
    def reset(self, env: Any) -> None: ...

    @abc.abstractmethod
    def risk(self, obs: dict[str, Any]) -> RiskSignal: ...


RISK_SOURCES = LazyRegistry(
    "risk source",
    {
        "oracle": ("mistvla.harness.risk.oracle:ClearanceOracle", None),
        "constant": ("mistvla.harness.risk.constant:ConstantRisk", None),
        "learned": ("mistvla.harness.risk.learned.source:LearnedRisk", None),
    },
)


def risk_source_class(name: str) -> type[RiskSource]:
    return RISK_SOURCES.resolve_class(name, RiskSource)


def risk_options(config: RiskConfig) -> Any:
    """The source's own config object from ``risk.params`` (errors name the field)."""
    return from_dict(risk_source_class(config.source).Config, config.params, "risk.params")


def make_risk_source(config: RiskConfig) -> RiskSource:
    """Build the risk source named in ``config`` with its validated params."""
    return risk_source_class(config.source)(risk_options(config))
