"""Does a steering direction do what it claims? Offline dose-response and selectivity (``mistvla steer check``).

Stored observations are replayed through the policy with each dimension's
vector at a grid of strengths (``alphas``, in the spec's own mode: relative to
the residual norm, or absolute hidden-state units); every action dimension's
change against the unsteered action is recorded. The scores
(:mod:`~mistvla.harness.steering.check_score`) are the *signed* dose-response
of each dimension in units of its spread over the frames, gripper flips
counted apart, overshoot tolerated within ``tolerance``; a dimension passes
when its own change is at least ``ratio`` (2) times the largest other one. A
second, **proportional** run steers each frame by ``f * a_d`` (sign
``-sign(a_d)``, converted to a strength through the direction's measured
per-unit effect, saturating at the largest strength) and scores the decrease
of ``|a_d|``: the magnitude target, which no fixed vector can reach.

``check.json`` (format ``mistvla.steering-check/2``) holds both, the per-unit
effect the closed-loop ``steer`` reads (``effect_per_unit``), and, for
comparison, the verdict of the first check (``old_check``: decrease of
``|a_d|``, strictly increasing, raw units, flips as 2.0).

>>> intended = np.array([[0.1, 0.2, 0.3], [0.1, 0.05, 0.3]])
>>> off = np.array([0.1, 0.1])
>>> old_passes(intended, off, 2.0).tolist()
[True, False]
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mistvla.harness.errors import ConfigError
from mistvla.harness.steering.check_score import (  # noqa: F401  (read_check: part of this module's API)
    CHECK_FORMAT,
    PASS_DIMS,
    read_check,
    score_magnitude,
    score_signed,
    spreads,
)
from mistvla.harness.steering.fit import N_MOTION_DIMS, read_fit

DEFAULT_ALPHAS = (0.05, 0.1, 0.2, 0.4, 0.8)
DEFAULT_FRACTIONS = (0.25, 0.5, 0.75)


def old_passes(intended: np.ndarray, off_diagonal: np.ndarray, ratio: float) -> np.ndarray:
    """The first check: intended effect positive, strictly increasing in strength, >= ratio x off-diagonal."""
    mono = np.all(np.diff(intended, axis=1) > 0, axis=1) & (intended[:, 0] > 0)
    return mono & (intended[:, -1] >= ratio * off_diagonal)


@dataclass
class CheckResult:
    alphas: list[float]
    delta: np.ndarray
    """(6 steered dims, alphas, observations, 7) steered minus unsteered action."""
    base: np.ndarray
    """(observations, 7) unsteered actions."""
    signed: bool
    """The set was fitted to push ``a_d`` down (``signed`` target, ``jacobian``)."""
    mode: str = "relative"
    fractions: list[float] | None = None
    proportional: np.ndarray | None = None
    """(6, fractions, observations, 7) the proportional run's changes (None: not run)."""

    def old_intended(self) -> np.ndarray:
        """(6, alphas) the first check's effect: mean decrease of a_d (signed) or of |a_d|, raw units."""
        out = np.zeros((N_MOTION_DIMS, len(self.alphas)))
        for d in range(N_MOTION_DIMS):
            steered = self.base[None, :, d] + self.delta[d, :, :, d]
            if self.signed:
                out[d] = -self.delta[d, :, :, d].mean(axis=1)
            else:
                out[d] = (np.abs(self.base[None, :, d]) - np.abs(steered)).mean(axis=1)
        return out

    def effect_per_unit(self) -> list[float]:
        """Per d: the mean decrease of a_d per unit strength at the smallest strength (action units)."""
        return [float(-self.delta[d, 0, :, d].mean() / self.alphas[0]) for d in range(N_MOTION_DIMS)]

    def selectivity(self) -> np.ndarray:
        """(6, 7) normalised mean |Δa_j| when steering d at the largest strength; column 6: flip rate."""
        sel = np.abs(self.delta[:, -1, :, :6]).mean(axis=1) / spreads(self.base)
        flips = (np.sign(self.base[:, 6]) != np.sign(self.base[:, 6] + self.delta[:, -1, :, 6])).mean(axis=1)
        return np.concatenate([sel, flips[:, None]], axis=1)

    def summary(self, ratio: float = 2.0, tolerance: float = 0.25, max_flips: float = 0.05) -> dict[str, Any]:
        signed = score_signed(self.delta, self.base, -1 if self.signed else 0, ratio, tolerance, max_flips)
        out: dict[str, Any] = {
            "format": CHECK_FORMAT,
            "alphas": self.alphas,
            "mode": self.mode,
            "n_observations": int(self.base.shape[0]),
            "ratio": ratio,
            "tolerance": tolerance,
            "max_flips": max_flips,
            "signed": _rounded(signed),
            "selectivity": np.round(self.selectivity(), 5).tolist(),
            "effect_per_unit": np.round(self.effect_per_unit(), 6).tolist(),
            "n_pass": signed["n_pass"],
            "passes": signed["passes"],
            "passed": signed["n_pass"] >= PASS_DIMS,
        }
        if self.proportional is not None:
            mag = score_magnitude(self.proportional, self.base, ratio, max_flips)
            out["magnitude"] = {"fractions": self.fractions, **_rounded(mag)}
        raw_sel = np.abs(self.delta[:, -1]).mean(axis=1)
        raw_sel[np.arange(N_MOTION_DIMS), np.arange(N_MOTION_DIMS)] = -np.inf
        old = old_passes(self.old_intended(), raw_sel.max(axis=1), ratio)
        out["old_check"] = {"passes": old.tolist(), "n_pass": int(old.sum()),
                            "intended": np.round(self.old_intended(), 5).tolist()}  # fmt: skip
        return out


def _rounded(d: dict[str, Any]) -> dict[str, Any]:
    return {k: (np.round(np.asarray(v, dtype=float), 5).tolist() if k not in ("passes", "n_pass", "sign", "peak")
                else v) for k, v in d.items()}  # fmt: skip


def _act(policy: Any, instruction: str, obs: dict[str, Any]) -> np.ndarray:
    policy.reset(instruction, seed=0)  # the same seed every call: any policy noise cancels in the deltas
    return np.asarray(policy.select_action(obs), dtype=np.float32)


def _steered(policy: Any, samples: list, specs: Sequence[Any], strengths: Sequence[float]) -> np.ndarray:
    """(samples, 7) actions with each sample's spec (one per sample) at one strength per sample."""
    from mistvla.hooks import SteeringSpec, steer

    rows = []
    for (ins, obs), spec, a in zip(samples, specs, strengths, strict=True):
        scaled = SteeringSpec(spec.vectors, alpha=float(a), mode=spec.mode, positions=spec.positions)
        with steer(policy.hook_model(), scaled, arch=policy.arch):
            rows.append(_act(policy, ins, obs))
    return np.stack(rows)


def dose_response(
    policy: Any,
    samples: Iterable[tuple[str, dict[str, Any]]],
    steering_dir: str | Path,
    alphas: Sequence[float] = DEFAULT_ALPHAS,
    fractions: Sequence[float] | None = DEFAULT_FRACTIONS,
) -> CheckResult:
    """Replay ``(instruction, observation)`` samples with each dimension's vectors at every strength,
    then (``fractions``) proportionally to each frame's own ``a_d``. A ``jacobian_online`` set is
    replayed with each frame's own directions and per-unit effects
    (:func:`~mistvla.harness.steering.online.frame_directions`), as it steers in the loop."""
    from mistvla.harness.interventions.steer import load_dimension_specs
    from mistvla.harness.steering.fit import METHODS, steering_method
    from mistvla.hooks import SteeringSpec

    specs = load_dimension_specs(steering_dir)
    fit = read_fit(steering_dir) or {}
    samples = list(samples)
    alphas = [float(a) for a in alphas]
    base = np.stack([_act(policy, ins, obs) for ins, obs in samples])
    online = fit.get("method") in METHODS and steering_method(fit["method"]).online
    frames = None
    if online:
        from mistvla.harness.steering.online import frame_directions

        frames = frame_directions(policy, samples, fit["point"])
    per_sample: dict[int, list[Any]] = {}
    for d, spec in specs.items():
        per_sample[d] = [spec] * len(samples) if frames is None else [
            SteeringSpec({fit["point"]: f[d][0]}, mode="absolute", positions="last_prompt") for f in frames
        ]  # fmt: skip
    delta = np.zeros((N_MOTION_DIMS, len(alphas), len(samples), 7), dtype=np.float32)
    for d in specs:
        for k, a in enumerate(alphas):
            delta[d, k] = _steered(policy, samples, per_sample[d], [a] * len(samples)) - base
    mode = next(iter(specs.values())).mode
    signed = fit.get("target") == "signed"
    result = CheckResult(alphas, delta, base, signed, mode)
    if fractions:
        result.fractions = [float(f) for f in fractions]
        result.proportional = np.zeros((N_MOTION_DIMS, len(fractions), len(samples), 7), dtype=np.float32)
        per_unit = result.effect_per_unit()
        for d in specs:
            units = per_unit[d] if frames is None else np.array([f[d][1] for f in frames])
            for k, f in enumerate(result.fractions):
                want = proportional_strengths(base[:, d], f, units, alphas[-1])
                result.proportional[d, k] = _steered(policy, samples, per_sample[d], want) - base
    return result


def proportional_strengths(
    a_d: np.ndarray, fraction: float, per_unit: float | np.ndarray, limit: float
) -> np.ndarray:
    """Strengths that change ``a_d`` by ``-fraction * a_d`` at ``per_unit`` decrease per unit (one for all
    frames, or one per frame), within ±``limit``; 0 where the per-unit effect is 0 or not finite.

    >>> proportional_strengths(np.array([0.2, -0.1, 0.0]), 0.5, 0.5, 0.15).tolist()
    [0.15, -0.1, 0.0]
    >>> proportional_strengths(np.array([0.2, -0.1]), 0.5, np.array([0.0, 1.0]), 1.0).tolist()
    [0.0, -0.05]
    """
    a = np.asarray(a_d, dtype=np.float64)
    e = np.broadcast_to(np.asarray(per_unit, dtype=np.float64), a.shape)
    ok = np.isfinite(e) & (e != 0)
    want = np.divide(fraction * a, e, out=np.zeros_like(a), where=ok)
    return np.clip(want, -limit, limit)


def write_check(
    result: CheckResult, out_dir: str | Path, ratio: float = 2.0, title: str = "", tolerance: float = 0.25
) -> dict[str, Any]:
    """check.json, selectivity.csv, selectivity.png and dose_response.png in ``out_dir``; returns the summary."""
    from mistvla.harness.steering.check_plots import DIM_NAMES, write_plots

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary = result.summary(ratio, tolerance)
    (out / "check.json").write_text(json.dumps(summary, indent=1))
    lines = ["steered," + ",".join(DIM_NAMES[:6]) + ",gripper_flips,pass"]
    for d, row in enumerate(summary["selectivity"]):
        lines.append(f"{DIM_NAMES[d]}," + ",".join(f"{x:.5f}" for x in row) + f",{summary['passes'][d]}")
    (out / "selectivity.csv").write_text("\n".join(lines) + "\n")
    write_plots(result, summary, out, title)
    return summary


def frames_samples(
    datasets: Sequence[str], max_frames: int = 200, split: str = "val"
) -> list[tuple[str, dict]]:
    """Evenly spaced ``(instruction, observation)`` samples of LeRobot demonstration datasets (state policies)."""
    from mistvla.harness.report.action_analysis import observation_from_vectors
    from mistvla.policies.reference.data import load_many, split_masks

    frames = load_many(list(datasets))
    if split != "all":
        train_mask, val_mask, _ = split_masks(frames, None)
        frames = frames.select(val_mask if split == "val" else train_mask)
    if len(frames.action) == 0:
        raise ConfigError(
            f"--split {split}: the datasets {list(datasets)} hold no {split} frames "
            "(their split names init states that were never collected); use --split all or other datasets"
        )
    idx = np.unique(np.linspace(0, len(frames.action) - 1, min(max_frames, len(frames.action))).astype(int))
    return [
        (frames.instruction[i], observation_from_vectors(frames.state[i], frames.env[i], frames.object_names))
        for i in idx
    ]
