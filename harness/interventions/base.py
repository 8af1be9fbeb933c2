"""Interventions: how the harness reacts, each step, to a risk signal; the contract and the registry.

Each step the runner calls :meth:`Intervention.gate` with the step's risk
*before* the policy acts (so activation steering can be armed around the
policy's forward pass), then :meth:`Intervention.apply` on the policy's raw
action to get the executed action.

Each kind is a class with its own config dataclass (``Config``), validated
from the intervention's entry in the run config, and declares what it needs
(``needs_per_dim``: a per-dimension risk vector; ``needs_direction``: the direction of the
nearest hazard; ``needs_hooks``: a policy with hook points), so an impossible combination is refused before any
episode runs. The built-in kinds (see :data:`INTERVENTIONS`):

- ``none``: the base policy, never active.
- ``stop`` (SAFE-style): hold the pose; end the episode, or hold N steps and resume.
- ``slow``: scale the motion deltas while risky.
- ``damp`` (ablation of steer): scale the riskiest motion dimension while risky.
- ``repel``: add translation away from the nearest hazard while risky (the action-space counterpart
  of ``steer`` with ``target: away``).
- ``steer`` (MIST): add that dimension's steering vectors through the hooks.
- ``random_steer`` (control): the same gating and magnitude, random direction.

>>> slow = make_intervention(InterventionConfig.make("slow", factor=0.5), threshold=0.7)
>>> slow.reset(seed=0)
>>> slow.gate(RiskSignal(0.9))
True
>>> slow.apply(np.array([0.2, -0.4, 0.6, 0.1, 0.0, 0.0, 1.0], dtype=np.float32)).action.tolist()
[0.10000000149011612, -0.20000000298023224, 0.30000001192092896, 0.05000000074505806, 0.0, 0.0, 1.0]
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from mistvla.harness.registry import LazyRegistry
from mistvla.harness.risk.base import RiskSignal
from mistvla.harness.typed import NoParams, parse_nested, to_dict

N_MOTION_DIMS = 6  # x, y, z, roll, pitch, yaw; index 6 is the gripper

INTERVENTIONS = LazyRegistry(
    "intervention",
    {
        "none": ("mistvla.harness.interventions.gating:NoIntervention", None),
        "stop": ("mistvla.harness.interventions.gating:Stop", None),
        "slow": ("mistvla.harness.interventions.gating:Slow", None),
        "damp": ("mistvla.harness.interventions.gating:Damp", None),
        "repel": ("mistvla.harness.interventions.gating:Repel", None),
        "steer": ("mistvla.harness.interventions.steer:SteerIntervention", None),
        "random_steer": ("mistvla.harness.interventions.steer:RandomSteerIntervention", None),
    },
)


def intervention_class(name: str) -> type[Intervention]:
    return INTERVENTIONS.resolve_class(name, Intervention)


COMMON_KEYS = ("name", "threshold", "label")


@dataclass
class InterventionConfig:
    """One entry of ``interventions:``: the kind, its gate threshold, its table label and its own options.

    In YAML the kind's options sit beside the common keys
    (``{name: stop, hold_steps: 5}``); they are validated by the kind's
    ``Config`` dataclass into :attr:`options`.
    """

    name: str
    threshold: float | None = None
    """Risk threshold; None: calibrated (see ``calibration``)."""
    label: str | None = None
    """Name in tables; defaults to ``name``."""
    params: dict[str, Any] = field(default_factory=dict)
    """The kind's options as given (flat in YAML)."""

    def __post_init__(self) -> None:
        if self.name not in INTERVENTIONS:
            raise ValueError(
                f"unknown intervention {self.name!r}; known: {', '.join(INTERVENTIONS.names())} "
                "(or a 'package.module:Class' name)"
            )
        self.options: Any = parse_nested(intervention_class(self.name).Config, self.params)
        self.params = to_dict(self.options)  # defaults filled in, so the manifest records them

    @classmethod
    def make(cls, name: str, threshold: float | None = None, label: str | None = None, **params: Any):
        """Build from keyword arguments, as YAML gives them: ``make("stop", hold_steps=5)``."""
        return cls(name, threshold, label, params)

    @staticmethod
    def from_yaml(data: Any) -> Any:
        """Move a flat YAML entry's kind options under ``params`` (other data is returned unchanged)."""
        if not isinstance(data, dict):
            return data
        out = {k: v for k, v in data.items() if k in (*COMMON_KEYS, "params")}
        extra = {k: v for k, v in data.items() if k not in out}
        if extra:
            out["params"] = {**dict(out.get("params") or {}), **extra}
        return out

    @property
    def display(self) -> str:
        return self.label or self.name


@dataclass
class Applied:
    action: np.ndarray
    active: bool
    stop_episode: bool = False


class Intervention:
    """Base class: threshold gating with onset counting."""

    Config: ClassVar[type] = NoParams
    needs_per_dim: ClassVar[bool] = False
    needs_direction: ClassVar[bool] = False
    """Reads :attr:`RiskSignal.per_dim`; refused with a risk source that has none."""
    needs_hooks: ClassVar[bool] = False
    """Acts through hook points; refused with a policy that has none."""

    def __init__(self, config: InterventionConfig, threshold: float | None) -> None:
        if config.name != "none" and threshold is None:
            raise ValueError(f"intervention {config.display!r} needs a threshold")
        self.config = config
        self.options = config.options
        self.threshold = threshold
        self.name = config.display
        self.active = False

    def reset(self, seed: int) -> None:
        self.active = False
        self.onsets = 0
        self.active_steps = 0
        self.first_step: int | None = None
        self._t = -1

    def _above(self, risk: RiskSignal) -> bool:
        return self.threshold is not None and bool(risk.score >= self.threshold)

    def gate(self, risk: RiskSignal) -> bool:
        """Decide, before the policy acts, whether the intervention is active this step."""
        self._t += 1
        was = self.active
        self.active = self._decide(risk)
        if self.active:
            self.active_steps += 1
            if not was:
                self.onsets += 1
                if self.first_step is None:
                    self.first_step = self._t
        return self.active

    def _decide(self, risk: RiskSignal) -> bool:
        return self._above(risk)

    def apply(self, raw_action: np.ndarray) -> Applied:
        return Applied(np.asarray(raw_action, dtype=np.float32).copy(), self.active)

    def prepare(self, policy: Any, obs: dict[str, Any]) -> None:
        """Called with this step's observation after the gate, before the policy's forward pass."""

    @contextlib.contextmanager
    def around_policy(self, policy: Any) -> Iterator[None]:
        """Context entered around ``policy.select_action`` (steering arms its hooks here)."""
        yield


def make_intervention(config: InterventionConfig, threshold: float | None) -> Intervention:
    """Build the intervention named in ``config``."""
    cls = intervention_class(config.name)
    return cls(config, None if config.name == "none" else threshold)
