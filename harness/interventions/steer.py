"""MIST's per-dimension activation steering, and its random-direction control.

While risky, :class:`SteerIntervention` adds the riskiest motion dimension's
steering vectors (one :class:`~mistvla.hooks.steering.SteeringSpec` per
dimension, ``dim_<d>`` in the ``steering`` directory) through the policy's
hooks, with strength relative to the residual norm.
:class:`RandomSteerIntervention` has identical gating and magnitude, in a
random direction.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mistvla.harness.errors import ConfigError
from mistvla.harness.interventions.base import N_MOTION_DIMS, InterventionConfig
from mistvla.harness.interventions.gating import PerDimension


@dataclass
class SteerConfig:
    steering: str
    """Directory of per-dimension steering specs (``dim_<d>.json`` / ``.npz``, d in 0..5)."""
    alpha: float = 0.1
    """Strength relative to the residual norm (the maximum, when ``adaptive``)."""
    adaptive: bool = False
    """Closed-loop strength: ``alpha * min(1, (risk - threshold) / span)``, proportional to how far
    the risk is above the threshold (full ``alpha`` at ``threshold + span``)."""
    span: float | None = None
    """Risk above the threshold at which adaptive strength reaches ``alpha``; None: ``1 - threshold``."""

    def __post_init__(self) -> None:
        if self.alpha < 0:
            raise ValueError(f"alpha must be >= 0, got {self.alpha}")
        if self.span is not None and self.span <= 0:
            raise ValueError(f"span must be > 0, got {self.span}")


def load_dimension_specs(path: str | Path) -> dict[int, Any]:
    """Per-dimension steering specs from a directory of ``dim_{d}.json/.npz`` files (d in 0..5)."""
    from mistvla.hooks import SteeringSpec

    root = Path(path)
    if not root.is_dir():
        raise ConfigError(f"steering: directory {str(root)!r} does not exist")
    specs = {
        d: SteeringSpec.load(root / f"dim_{d}")
        for d in range(N_MOTION_DIMS)
        if (root / f"dim_{d}.json").exists()
    }
    if not specs:
        raise ConfigError(f"steering: no dim_<d>.json steering specs in {str(root)!r}")
    return specs


class SteerIntervention(PerDimension):
    """MIST: while risky, add the riskiest dimension's steering vectors (relative alpha)."""

    Config = SteerConfig
    needs_hooks = True

    def __init__(self, config: InterventionConfig, threshold: float | None) -> None:
        super().__init__(config, threshold)
        self.specs = load_dimension_specs(self.options.steering)

    def reset(self, seed: int) -> None:
        super().reset(seed)
        self._rng = np.random.default_rng([seed, 7919])
        self._score = 0.0

    def _decide(self, risk: Any) -> bool:
        self._score = float(risk.score)
        return super()._decide(risk)

    def strength(self) -> float:
        """This step's relative alpha: fixed, or proportional to the risk's excess over the threshold.

        >>> import tempfile
        >>> from mistvla.harness.risk.base import RiskSignal
        >>> from mistvla.hooks import SteeringSpec
        >>> d = tempfile.mkdtemp(); _ = SteeringSpec({"llm.blocks.0.resid_post": np.ones(4)}).save(d + "/dim_1")
        >>> cfg = InterventionConfig.make("steer", steering=d, alpha=0.4, adaptive=True, span=0.2)
        >>> s = SteerIntervention(cfg, threshold=0.5); s.reset(0)
        >>> [(s.gate(RiskSignal(r, [0, 1, 0, 0, 0, 0, 0])), round(s.strength(), 6)) for r in (0.4, 0.6, 0.9)]
        [(False, 0.0), (True, 0.2), (True, 0.4)]
        """
        alpha = float(self.options.alpha)
        if not self.options.adaptive:
            return alpha
        threshold = float(self.threshold or 0.0)
        span = self.options.span or max(1.0 - threshold, 1e-6)
        return alpha * float(np.clip((self._score - threshold) / span, 0.0, 1.0))

    def _spec_for(self, dim: int) -> Any:
        from mistvla.hooks import SteeringSpec

        base = self.specs.get(dim)
        if base is None:
            return None
        return SteeringSpec(base.vectors, alpha=self.strength(), mode="relative", positions=base.positions)

    @contextlib.contextmanager
    def around_policy(self, policy: Any) -> Iterator[None]:
        spec = self._spec_for(self.dim) if self.active else None
        if spec is None:
            yield
            return
        from mistvla.hooks import steer

        with steer(policy.hook_model(), spec, arch=policy.arch):
            yield


class RandomSteerIntervention(SteerIntervention):
    """Control: the same gating and relative magnitude as :class:`SteerIntervention`, a random direction."""

    def _spec_for(self, dim: int) -> Any:
        spec = super()._spec_for(dim)
        if spec is None:
            return None
        for name, v in spec.vectors.items():
            r = self._rng.standard_normal(v.shape).astype(np.float32)
            spec.vectors[name] = r / np.linalg.norm(r) * np.linalg.norm(v)
        return spec
