"""Exact power and sample size of the paired design tested with the exact McNemar test.

With ``n`` pairing units, the number of discordant units is
``D ~ Binom(n, psi)`` and, given ``D = d``, the treated-side count is
``B ~ Binom(d, pi)`` with ``pi = p10 / psi``. The exact test rejects when
``B`` falls in the rejection region of the exact binomial test of ``pi = 1/2``
at level ``alpha`` (the same p-value formula as :mod:`.mcnemar`), so

    power(n) = sum_d  Binom(d; n, psi) * P(B in R_d | d, pi)

is computed exactly, with no normal approximation.

Exact-test power is **saw-toothed in n** (the discrete rejection regions
jump), so "the smallest n with power >= target" can be followed by a few n
with less. :func:`units_needed` therefore returns the smallest ``n`` such that
the power is ``>= target`` at ``n`` **and at every n' in [n, n + window]**
(``window = 10`` units by default); ``SampleSize`` also reports the power at
``n``, the smallest power in the window and the normal-approximation n
(Connor 1987) for comparison.

>>> from mistvla.harness.stats.rates import rates_from_effect
>>> plan = units_needed(rates_from_effect(0.2, 0.3))
>>> plan.n, round(plan.power, 3)
(61, 0.805)
>>> round(exact_power(61, rates_from_effect(0.2, 0.3)), 3)
0.805
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import binom, norm

from mistvla.harness.stats.mcnemar import ALTERNATIVES, exact_p_value
from mistvla.harness.stats.rates import DiscordanceRates

DEFAULT_ALPHA = 0.05
DEFAULT_POWER = 0.8
DEFAULT_WINDOW = 10
MAX_UNITS = 200_000


def rejection_bounds(
    d: np.ndarray, alpha: float, alternative: str = "two-sided"
) -> tuple[np.ndarray, np.ndarray]:
    """Per discordant total ``d``: the test rejects iff ``b <= lo`` or ``b >= hi``.

    ``lo = -1`` / ``hi = d + 1`` mean "never on that side".

    >>> lo, hi = rejection_bounds(np.array([0, 5, 6, 10]), 0.05)
    >>> lo.tolist(), hi.tolist()
    ([-1, -1, 0, 1], [1, 6, 6, 9])
    """
    if alternative not in ALTERNATIVES:
        raise ValueError(f"alternative must be one of {list(ALTERNATIVES)}, got {alternative!r}")
    d = np.asarray(d, dtype=np.int64)

    def rejects(b: np.ndarray) -> np.ndarray:
        ok = (b >= 0) & (b <= d)
        p = exact_p_value(np.clip(b, 0, d), d - np.clip(b, 0, d), alternative)
        return ok & (p <= alpha)

    def largest_lower(tail: float) -> np.ndarray:  # largest b whose lower tail rejects, -1 if none
        k = np.nan_to_num(binom.ppf(tail, d, 0.5), nan=0.0).astype(np.int64)
        for _ in range(4):  # the ppf is off by at most one; step until the boundary is exact
            k = np.where((k >= 0) & ~rejects(k), k - 1, k)
            k = np.where(
                rejects(k + 1) & (k + 1 <= d // 2 if alternative == "two-sided" else k + 1 <= d), k + 1, k
            )
        return np.maximum(k, -1)

    if alternative == "two-sided":
        lo = largest_lower(alpha / 2)
        return lo, np.where(lo >= 0, d - lo, d + 1)
    if alternative == "less":
        return largest_lower(alpha), d + 1
    # greater: mirror of "less" (b >= hi  <=>  d - b <= lo of the mirrored test)
    mirrored = rejection_bounds(d, alpha, "less")[0]
    return np.full_like(d, -1), np.where(mirrored >= 0, d - mirrored, d + 1)


def _conditional_power(d_max: int, rates: DiscordanceRates, alpha: float, alternative: str) -> np.ndarray:
    d = np.arange(d_max + 1)
    lo, hi = rejection_bounds(d, alpha, alternative)
    pi = rates.split
    return binom.cdf(lo, d, pi) + binom.sf(hi - 1, d, pi)


def exact_power(
    n: int, rates: DiscordanceRates, alpha: float = DEFAULT_ALPHA, alternative: str = "two-sided"
) -> float:
    """Probability that the exact McNemar test at level ``alpha`` rejects with ``n`` pairing units."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if rates.discordance == 0:
        return 0.0
    cond = _conditional_power(n, rates, alpha, alternative)
    return float(np.dot(binom.pmf(np.arange(n + 1), n, rates.discordance), cond))


def normal_units(rates: DiscordanceRates, alpha: float = DEFAULT_ALPHA, power: float = DEFAULT_POWER,
                 alternative: str = "two-sided") -> float:  # fmt: skip
    """Connor's (1987) normal-approximation sample size, for comparison (often a few units low).

    >>> from mistvla.harness.stats.rates import rates_from_effect
    >>> round(normal_units(rates_from_effect(0.1, 0.3)), 1)
    233.1
    """
    psi, delta = rates.discordance, abs(rates.delta)
    if delta == 0:
        return math.inf
    z_a = norm.ppf(1 - alpha / 2 if alternative == "two-sided" else 1 - alpha)
    return float((z_a * math.sqrt(psi) + norm.ppf(power) * math.sqrt(psi - delta**2)) ** 2 / delta**2)


@dataclass(frozen=True)
class SampleSize:
    """A planned number of pairing units and what it achieves."""

    n: int  # pairing units needed
    power: float  # exact power at n
    min_power_in_window: float  # smallest exact power over [n, n + window]
    window: int
    normal_n: float  # normal-approximation n, for comparison
    rates: DiscordanceRates
    alpha: float
    target_power: float
    alternative: str


def power_curve(n_max: int, rates: DiscordanceRates, alpha: float = DEFAULT_ALPHA,
                alternative: str = "two-sided", n_min: int = 0) -> np.ndarray:  # fmt: skip
    """Exact power for every ``n`` in ``[n_min, n_max]`` (the conditional powers are computed once)."""
    cond = _conditional_power(n_max, rates, alpha, alternative)
    return np.array([float(np.dot(binom.pmf(np.arange(n + 1), n, rates.discordance), cond[: n + 1]))
                     for n in range(n_min, n_max + 1)])  # fmt: skip


def units_needed(rates: DiscordanceRates, alpha: float = DEFAULT_ALPHA, power: float = DEFAULT_POWER,
                 alternative: str = "two-sided", window: int = DEFAULT_WINDOW,
                 max_units: int = MAX_UNITS) -> SampleSize:  # fmt: skip
    """Smallest ``n`` whose exact power, and that of every n' in ``[n, n + window]``, is ``>= power``.

    Raises ``ValueError`` when the effect has the wrong sign for a one-sided
    alternative, is zero, or needs more than ``max_units`` units.
    """
    if not 0 < alpha < 1 or not 0 < power < 1:
        raise ValueError(f"alpha and power must be in (0, 1), got alpha={alpha} power={power}")
    sign = {"two-sided": 0, "greater": 1, "less": -1}[alternative]
    if rates.delta == 0 or sign * rates.delta < 0:
        raise ValueError(f"effect {rates.delta:+g} cannot be detected by a {alternative!r} test")
    approx = normal_units(rates, alpha, power, alternative)
    if approx > max_units:
        raise ValueError(f"about {approx:.0f} units needed, more than max_units={max_units}")
    start = max(1, int(0.8 * approx))  # the exact n has been 1.0-1.1 times the normal one
    if exact_power(start, rates, alpha, alternative) >= power:
        start = 1
    hi = max(start, int(1.2 * approx)) + window + 16
    while True:
        curve = power_curve(min(hi, max_units + window), rates, alpha, alternative, n_min=start)
        ok = curve >= power
        for i in range(len(curve) - window):
            if ok[i : i + window + 1].all():
                n = start + i
                return SampleSize(n, float(curve[i]), float(curve[i : i + window + 1].min()), window,
                                  approx, rates, alpha, power, alternative)  # fmt: skip
        if hi >= max_units + window:
            raise ValueError(f"power {power} is not reached within max_units={max_units}")
        hi *= 2


__all__ = ["SampleSize", "exact_power", "normal_units", "power_curve", "rejection_bounds", "units_needed"]
