"""Interventions: how the harness reacts, each step, to a risk signal.

Each step the runner calls :meth:`Intervention.gate` with the step's risk
*before* the policy acts (so activation steering can be armed around the
policy's forward pass), then :meth:`Intervention.apply` on the policy's raw
action to get the executed action.

- ``none``: the base policy, never active.
- ``stop`` (SAFE-style): when risk crosses the threshold, halt: hold the pose
  (zero delta) with the gripper command kept; end the episode as ``stopped``,
  or with ``hold_steps=N`` hold N steps and resume (re-armed once risk falls
  back below the threshold).
- ``slow``: while risk >= threshold, scale translation and rotation deltas by
  ``factor`` (the gripper command is untouched).
- ``damp`` (ablation of steer): the same gating as ``steer``; scale the
  riskiest action dimension of the per-dimension risk vector by ``factor``.
- ``steer`` (MIST): the same gating; add that dimension's steering vectors
  through the hooks, strength relative to the residual norm.
- ``random_steer`` (control): identical gating and magnitude, random direction.

>>> from mistvla.harness.run_config import InterventionConfig
>>> slow = make_intervention(InterventionConfig("slow", factor=0.5), threshold=0.7)
>>> slow.reset(seed=0)
>>> slow.gate(RiskSignal(0.9))
True
>>> slow.apply(np.array([0.2, -0.4, 0.6, 0.1, 0.0, 0.0, 1.0], dtype=np.float32)).action.tolist()
[0.10000000149011612, -0.20000000298023224, 0.30000001192092896, 0.05000000074505806, 0.0, 0.0, 1.0]
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .run_config import InterventionConfig

N_MOTION_DIMS = 6  # x, y, z, roll, pitch, yaw; index 6 is the gripper


@dataclass
class RiskSignal:
    """A step's risk: a scalar gate score and optionally one score per action dimension."""

    score: float
    per_dim: np.ndarray | None = None


@dataclass
class Applied:
    action: np.ndarray
    active: bool
    stop_episode: bool = False


class Intervention:
    """Base class: threshold gating with onset counting."""

    needs_per_dim = False
    needs_hooks = False

    def __init__(self, config: InterventionConfig, threshold: float | None) -> None:
        if config.name != "none" and threshold is None:
            raise ValueError(f"intervention {config.display!r} needs a threshold")
        self.config = config
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

    @contextlib.contextmanager
    def around_policy(self, policy: Any) -> Iterator[None]:
        """Context entered around ``policy.select_action`` (steering arms its hooks here)."""
        yield


class NoIntervention(Intervention):
    def _decide(self, risk: RiskSignal) -> bool:
        return False


class Stop(Intervention):
    """Hold pose with the gripper kept; end the episode, or hold ``hold_steps`` and resume."""

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
            self._hold_left = self.config.hold_steps or 1
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
        if self.config.hold_steps is None:
            return Applied(held, True, stop_episode=True)
        self._hold_left -= 1
        return Applied(held, True)


class Slow(Intervention):
    def apply(self, raw_action: np.ndarray) -> Applied:
        act = np.asarray(raw_action, dtype=np.float32).copy()
        if self.active:
            act[:N_MOTION_DIMS] *= self.config.factor
        return Applied(act, self.active)


class _PerDimension(Intervention):
    """Gating on the scalar score; acts on the riskiest motion dimension."""

    needs_per_dim = True

    def _decide(self, risk: RiskSignal) -> bool:
        if risk.per_dim is None:
            raise ValueError(f"intervention {self.name!r} needs a per-dimension risk vector")
        self.dim = int(np.argmax(np.asarray(risk.per_dim)[:N_MOTION_DIMS]))
        return self._above(risk)


class Damp(_PerDimension):
    def apply(self, raw_action: np.ndarray) -> Applied:
        act = np.asarray(raw_action, dtype=np.float32).copy()
        if self.active:
            act[self.dim] *= self.config.factor
        return Applied(act, self.active)


def load_dimension_specs(path: str | Path) -> dict[int, Any]:
    """Per-dimension steering specs from a directory of ``dim_{d}.json/.npz`` files (d in 0..5)."""
    from ..hooks import SteeringSpec

    root = Path(path)
    if not root.is_dir():
        raise FileNotFoundError(f"steering directory {root} does not exist")
    specs = {
        d: SteeringSpec.load(root / f"dim_{d}")
        for d in range(N_MOTION_DIMS)
        if (root / f"dim_{d}.json").exists()
    }
    if not specs:
        raise FileNotFoundError(f"no dim_<d>.json steering specs in {root}")
    return specs


class Steer(_PerDimension):
    """MIST: while risky, add the riskiest dimension's steering vectors (relative alpha)."""

    needs_hooks = True

    def __init__(self, config: InterventionConfig, threshold: float | None, specs: dict[int, Any]) -> None:
        super().__init__(config, threshold)
        self.specs = specs

    def reset(self, seed: int) -> None:
        super().reset(seed)
        self._rng = np.random.default_rng([seed, 7919])

    def _spec_for(self, dim: int) -> Any:
        from ..hooks import SteeringSpec

        base = self.specs.get(dim)
        if base is None:
            return None
        return SteeringSpec(base.vectors, alpha=self.config.alpha, mode="relative", positions=base.positions)

    @contextlib.contextmanager
    def around_policy(self, policy: Any) -> Iterator[None]:
        spec = self._spec_for(self.dim) if self.active else None
        if spec is None:
            yield
            return
        from ..hooks import steer

        with steer(policy.hook_model(), spec):
            yield


class RandomSteer(Steer):
    """Control: the same gating and relative magnitude as :class:`Steer`, a random direction."""

    def _spec_for(self, dim: int) -> Any:
        spec = super()._spec_for(dim)
        if spec is None:
            return None
        for name, v in spec.vectors.items():
            r = self._rng.standard_normal(v.shape).astype(np.float32)
            spec.vectors[name] = r / np.linalg.norm(r) * np.linalg.norm(v)
        return spec


def make_intervention(config: InterventionConfig, threshold: float | None) -> Intervention:
    """Build the intervention named in ``config``."""
    if config.name == "none":
        return NoIntervention(config, None)
    if config.name == "stop":
        return Stop(config, threshold)
    if config.name == "slow":
        return Slow(config, threshold)
    if config.name == "damp":
        return Damp(config, threshold)
    if config.name in ("steer", "random_steer"):
        if not config.steering:
            raise ValueError(
                f"intervention {config.display!r} needs `steering:` (a directory of dim_<d> specs)"
            )
        cls = Steer if config.name == "steer" else RandomSteer
        return cls(config, threshold, load_dimension_specs(config.steering))
    raise ValueError(f"unknown intervention {config.name!r}")
