"""The interventions that change the executed action: none, stop, slow, damp, repel.

>>> stop = make_intervention(InterventionConfig.make("stop", hold_steps=2), threshold=0.5)
>>> stop.reset(seed=0)
>>> active = []
>>> for r in (0.1, 0.9, 0.9, 0.9, 0.1, 0.9):
...     active.append(stop.gate(RiskSignal(r)))
...     _ = stop.apply(np.zeros(7, dtype=np.float32))
>>> active  # held 2 steps, then re-armed only after risk fell below the threshold
[False, True, True, False, False, True]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mistvla.harness.interventions.base import (  # noqa: F401  (doctest names)
    N_MOTION_DIMS,
    Applied,
    Intervention,
    InterventionConfig,
    make_intervention,
)
from mistvla.harness.risk.base import RiskSignal


class NoIntervention(Intervention):
    """The base policy: never active."""

    def _decide(self, risk: RiskSignal) -> bool:
        return False


@dataclass
class StopConfig:
    hold_steps: int | None = None
    """Hold for this many steps then resume; None: end the episode as ``stopped``."""

    def __post_init__(self) -> None:
        if self.hold_steps is not None and self.hold_steps < 1:
            raise ValueError(f"hold_steps must be >= 1, got {self.hold_steps}")


class Stop(Intervention):
    """SAFE-style: hold pose with the gripper kept; end the episode, or hold ``hold_steps`` and resume.

    Re-armed once risk falls back below the threshold.
    """

    Config = StopConfig

    def reset(self, seed: int) -> None:
        super().reset(seed)
        self._hold_left = 0
        self._armed = True
        self._gripper: float | None = None

    def _decide(self, risk: RiskSignal) -> bool:
        if self._hold_left > 0:
            return True
        above = self._above(risk)
        if above and self._armed:
            self._armed = False
            self._hold_left = self.options.hold_steps or 1
            return True
        if not above:
            self._armed = True
        return False

    def apply(self, raw_action: np.ndarray) -> Applied:
        raw = np.asarray(raw_action, dtype=np.float32)
        if not self.active:
            self._gripper = float(raw[6])
            return Applied(raw.copy(), False)
        held = np.zeros(7, dtype=np.float32)
        held[6] = raw[6] if self._gripper is None else self._gripper
        if self.options.hold_steps is None:
            return Applied(held, True, stop_episode=True)
        self._hold_left -= 1
        return Applied(held, True)


@dataclass
class FactorConfig:
    factor: float = 0.5
    """Scale for the affected action deltas, in [0, 1]."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.factor <= 1.0:
            raise ValueError(f"factor must be in [0, 1], got {self.factor}")


class Slow(Intervention):
    """While risk >= threshold, scale translation and rotation deltas by ``factor`` (gripper untouched)."""

    Config = FactorConfig

    def apply(self, raw_action: np.ndarray) -> Applied:
        act = np.asarray(raw_action, dtype=np.float32).copy()
        if self.active:
            act[:N_MOTION_DIMS] *= self.options.factor
        return Applied(act, self.active)


class PerDimension(Intervention):
    """Gating on the scalar score; acts on the riskiest motion dimension of the per-dimension risk."""

    needs_per_dim = True

    def _decide(self, risk: RiskSignal) -> bool:
        if risk.per_dim is None:
            raise ValueError(f"intervention {self.name!r} needs a per-dimension risk vector")
        self.dim = int(np.argmax(np.asarray(risk.per_dim)[:N_MOTION_DIMS]))
        return self._above(risk)


class Damp(PerDimension):
    """Ablation of steer: scale the riskiest motion dimension by ``factor`` while risky."""

    Config = FactorConfig

    def apply(self, raw_action: np.ndarray) -> Applied:
        act = np.asarray(raw_action, dtype=np.float32).copy()
        if self.active:
            act[self.dim] *= self.options.factor
        return Applied(act, self.active)


@dataclass
class RepelConfig:
    gain: float = 0.5
    """Translation (action units) added away from the nearest hazard on every gated step."""

    def __post_init__(self) -> None:
        if not 0.0 < self.gain <= 1.0:
            raise ValueError(f"gain must be in (0, 1], got {self.gain}")


class Repel(Intervention):
    """While risky, add ``gain`` of translation away from the nearest hazard (the risk's direction), clipped.

    The action-space counterpart of ``steer`` with ``target: away``: the same requested change of the
    motion, made on the action instead of in the hidden state.

    >>> r = make_intervention(InterventionConfig.make("repel", gain=0.5), threshold=0.5)
    >>> r.reset(seed=0)
    >>> r.gate(RiskSignal(0.9, None, np.array([0.0, 0.0, -1.0])))  # the hazard is below the gripper
    True
    >>> r.apply(np.array([0.1, 0.0, -0.8, 0, 0, 0, 1.0], dtype=np.float32)).action.tolist()
    [0.10000000149011612, 0.0, -0.30000001192092896, 0.0, 0.0, 0.0, 1.0]
    """

    Config = RepelConfig
    needs_direction = True

    def reset(self, seed: int) -> None:
        super().reset(seed)
        self.toward: np.ndarray | None = None

    def _decide(self, risk: RiskSignal) -> bool:
        self.toward = None if risk.direction is None else np.asarray(risk.direction, dtype=np.float32)
        return self._above(risk)

    def apply(self, raw_action: np.ndarray) -> Applied:
        act = np.asarray(raw_action, dtype=np.float32).copy()
        if self.active and self.toward is not None:
            act[:3] = np.clip(act[:3] - self.options.gain * self.toward, -1.0, 1.0)
        return Applied(act, self.active)
