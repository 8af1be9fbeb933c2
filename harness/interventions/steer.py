"""MIST's per-dimension activation steering, and its random-direction control.

While risky, :class:`SteerIntervention` adds the riskiest motion dimension's
steering vectors (one :class:`~mistvla.hooks.steering.SteeringSpec` per
dimension, ``dim_<d>`` in the ``steering`` directory) through the policy's
hooks, with strength relative to the residual norm (``strength: alpha``) or, closed loop, in
action units (``strength: action``: a fraction of this step's ``a_d``, converted through the
direction's measured per-unit effect, saturating).
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

STRENGTHS = ("alpha", "action")
TARGETS = ("riskiest", "away")


@dataclass
class SteerConfig:
    steering: str
    """Directory of per-dimension steering specs (``dim_<d>.json`` / ``.npz``, d in 0..5)."""
    alpha: float = 0.1
    """``strength: alpha``: strength relative to the residual norm (the maximum, when ``adaptive``)."""
    adaptive: bool = False
    """Closed-loop strength: ``alpha * min(1, (risk - threshold) / span)``, proportional to how far
    the risk is above the threshold (full ``alpha`` at ``threshold + span``)."""
    span: float | None = None
    """Risk above the threshold at which adaptive strength reaches ``alpha``; None: ``1 - threshold``."""
    strength: str = "alpha"
    """``alpha``: the relative alpha above; ``action``: closed loop in action units: each step asks for a
    change of ``-fraction * a_d`` (``a_d``: this step's unsteered action, estimated from the last step's),
    converted to a shift along the direction through its measured per-unit effect (``check/check.json``),
    saturating at ``max_shift``."""
    fraction: float = 0.5
    """``strength: action``: the requested change of ``a_d`` as a fraction of it (0.5 halves it)."""
    max_shift: float | None = None
    """``strength: action``: the largest shift (the spec's units); None: the check's largest strength."""
    allow_failed_check: bool = False
    """Run a direction set whose check failed (< 4/6 dimensions pass) or that has none."""
    target: str = "riskiest"
    """``riskiest``: ask for ``-fraction * a_d`` on the riskiest dimension; ``away``: ask for ``gain`` of
    translation away from the nearest hazard (the risk's direction; ``strength: action``), realised through
    the pinv columns of x, y, z (the set's, or each step's own with ``jacobian_online``)."""
    gain: float = 0.5
    """``target: away``: the requested translation away from the hazard, in action units."""

    def __post_init__(self) -> None:
        if not self.alpha > 0:
            raise ValueError(f"alpha must be > 0, got {self.alpha}")
        if self.span is not None and self.span <= 0:
            raise ValueError(f"span must be > 0, got {self.span}")
        if self.strength not in STRENGTHS:
            raise ValueError(f"strength must be one of {', '.join(STRENGTHS)}, got {self.strength!r}")
        if not 0 < self.fraction <= 1:
            raise ValueError(f"fraction must be in (0, 1], got {self.fraction}")
        if self.max_shift is not None and not self.max_shift > 0:
            raise ValueError(f"max_shift must be > 0, got {self.max_shift}")
        if self.target not in TARGETS:
            raise ValueError(f"target must be one of {', '.join(TARGETS)}, got {self.target!r}")
        if not 0 < self.gain <= 1:
            raise ValueError(f"gain must be in (0, 1], got {self.gain}")
        if self.target == "away" and self.strength != "action":
            raise ValueError("target: away asks for a change in action units; set strength: action")


def per_unit_effects(path: str | Path) -> tuple[list[float], float] | None:
    """The set's measured decrease of a_d per unit strength and its check's largest strength, or None."""
    from mistvla.harness.steering.check_score import read_check

    chk = read_check(path)
    if chk is None or "effect_per_unit" not in chk:
        return None
    return [float(x) for x in chk["effect_per_unit"]], float(chk["alphas"][-1])


def online_point(path: str | Path, strength: str, where: str = "steering") -> str | None:
    """The fitted hook point of a ``jacobian_online`` set (refused unless ``strength: action``), else None."""
    from mistvla.harness.steering.fit import METHODS, read_fit, steering_method

    fit = read_fit(path) or {}
    if fit.get("method") not in METHODS or not steering_method(fit["method"]).online:
        return None
    from mistvla.harness.steering.online import check_online_options

    check_online_options(strength, where)
    return str(fit["point"])


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
    """MIST: while risky, add the riskiest dimension's steering vectors (relative alpha, or in action units)."""

    Config = SteerConfig
    needs_hooks = True

    def __init__(self, config: InterventionConfig, threshold: float | None) -> None:
        super().__init__(config, threshold)
        self.specs = load_dimension_specs(self.options.steering)
        self.per_unit: list[float] | None = None
        self.online_point = online_point(self.options.steering, self.options.strength)
        """The hook point of a ``jacobian_online`` set (directions recomputed every gated step), or None."""
        self._online: tuple[Any, float] | None = None
        self.toward: np.ndarray | None = None
        if self.options.strength == "action":
            effects = per_unit_effects(self.options.steering)
            if effects is None:
                raise ConfigError(
                    f"steering: {self.options.steering!r} has no measured per-unit effect (check/check.json "
                    "of mistvla steer check), which strength: action needs"
                )
            self.per_unit, largest = effects
            self.max_shift = float(self.options.max_shift or largest)

    def reset(self, seed: int) -> None:
        super().reset(seed)
        self._rng = np.random.default_rng([seed, 7919])
        self._score = 0.0
        self._last_raw: np.ndarray | None = None
        self._shift = 0.0
        """The shift applied on the last step (the spec's units) and on which dimension."""
        self._shift_dim = 0
        self._pending = (0.0, 0)
        self._prepared: int | None = None
        self.toward = None

    def prepare(self, policy: Any, obs: dict[str, Any]) -> None:
        """Before any forward pass of the step: a gated ``jacobian_online`` set takes this step's
        Jacobian here (unsteered: in lock-step, before any episode's steering hooks are armed)."""
        self._online = None
        self._prepared = self._t
        if self.online_point is None or not self.active:
            return
        if self.options.target == "away":
            from mistvla.harness.steering.online import online_away_spec

            if self.toward is not None:
                spec = online_away_spec(
                    policy, obs, self.online_point, self.toward, self.options.gain, self.max_shift
                )
                self._online = None if spec is None else (spec, spec.alpha)
        elif self.dim in self.specs:
            from mistvla.harness.steering.online import online_spec

            self._online = online_spec(
                policy, obs, self.online_point, self.dim, self.options.fraction, self.max_shift
            )

    def apply(self, raw_action: np.ndarray) -> Any:
        self._last_raw = np.asarray(raw_action, dtype=np.float64).copy()
        self._shift, self._shift_dim = self._pending
        self._pending = (0.0, 0)
        return super().apply(raw_action)

    undo_last_shift: bool = True
    """The last step's shift moved ``a_d`` by ``shift * per_unit`` (the control's random one did not)."""

    def unsteered_estimate(self, dim: int) -> float:
        """This step's unsteered ``a_dim``: the last raw action with the last step's steering undone."""
        if self._last_raw is None or self.per_unit is None:
            return 0.0
        undo = self._shift * self.per_unit[dim] if self._shift_dim == dim and self.undo_last_shift else 0.0
        return float(self._last_raw[dim] + undo)

    def action_shift(self, dim: int) -> float:
        """``strength: action``: the shift that changes ``a_dim`` by ``-fraction * a_dim``, within ``max_shift``.

        >>> import tempfile
        >>> from mistvla.harness.risk.base import RiskSignal
        >>> from mistvla.hooks import SteeringSpec
        >>> d = tempfile.mkdtemp(); _ = SteeringSpec({"llm.blocks.0.resid_post": np.ones(4)}).save(d + "/dim_1")
        >>> import json, os; os.makedirs(d + "/check")
        >>> _ = open(d + "/check/check.json", "w").write(json.dumps({"format": "mistvla.steering-check/2",
        ...     "effect_per_unit": [0.1] * 6, "alphas": [1.0, 2.0], "n_pass": 6, "passed": True}))
        >>> cfg = InterventionConfig.make("steer", steering=d, strength="action", fraction=0.5)
        >>> s = SteerIntervention(cfg, threshold=0.5); s.reset(0)
        >>> _ = s.apply(np.array([0, 0.1, 0, 0, 0, 0, 1.0]))      # last step: a_1 = 0.1, unsteered
        >>> s.gate(RiskSignal(0.9, [0, 1, 0, 0, 0, 0, 0])), round(s.action_shift(1), 6)
        (True, 0.5)
        >>> _ = s._spec_for(1); _ = s.apply(np.array([0, 0.05, 0, 0, 0, 0, 1.0]))  # steered by 0.5 * 0.1
        >>> round(s.unsteered_estimate(1), 6), round(s.action_shift(1), 6)      # the last shift undone
        (0.1, 0.5)
        """
        assert self.per_unit is not None
        e = self.per_unit[dim]
        if e == 0 or not np.isfinite(e):
            return 0.0
        want = self.options.fraction * self.unsteered_estimate(dim) / e
        return float(np.clip(want, -self.max_shift, self.max_shift))

    def _decide(self, risk: Any) -> bool:
        self._score = float(risk.score)
        direction = getattr(risk, "direction", None)
        self.toward = None if direction is None else np.asarray(direction, dtype=np.float64)
        return super()._decide(risk)

    def _away_spec(self) -> Any:
        """``target: away`` with a fixed set: ``gain`` away from the hazard through the set's x, y, z columns
        (``-v_d / e_d``: the unit vector over its measured decrease of a_d per unit)."""
        from mistvla.harness.steering.online import away_spec

        if self.toward is None or self.per_unit is None or not all(d in self.specs for d in range(3)):
            return None
        point = next(iter(self.specs[0].vectors))
        cols = np.stack(
            [-self.specs[d].vectors[point].astype(np.float64) / self.per_unit[d] for d in range(3)], axis=1
        )
        return away_spec(cols, self.toward, self.options.gain, point, self.max_shift)

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
        if self.online_point is not None:
            return self._online_spec(dim)
        if self.options.target == "away":
            return self._away_spec()
        if self.options.strength == "action":
            shift = self.action_shift(dim)
            self._pending = (shift, dim)
            return SteeringSpec(base.vectors, alpha=shift, mode=base.mode, positions=base.positions)
        return SteeringSpec(base.vectors, alpha=self.strength(), mode="relative", positions=base.positions)

    def _online_spec(self, dim: int) -> Any:
        """This step's own pinv direction for ``dim`` (from :meth:`prepare`) and the shift asking
        ``-fraction * a_d`` of it; the exact ``a_d`` is read each step, so nothing is undone."""
        if getattr(self, "_prepared", None) != self._t:
            raise RuntimeError("jacobian_online steering: prepare(policy, obs) was not called this step")
        self._pending = (0.0, dim)
        return None if self._online is None else self._online[0]

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
    """Control: the same gating and magnitude as :class:`SteerIntervention`, a random direction each step.

    With ``strength: action`` the shift is the one MIST would apply to the last (unsteered) action; the
    random direction does not move ``a_d`` by ``shift * per_unit``, so nothing is undone.
    """

    undo_last_shift = False

    def _spec_for(self, dim: int) -> Any:
        spec = super()._spec_for(dim)
        if spec is None:
            return None
        for name, v in spec.vectors.items():
            r = self._rng.standard_normal(v.shape).astype(np.float32)
            spec.vectors[name] = r / np.linalg.norm(r) * np.linalg.norm(v)
        return spec
