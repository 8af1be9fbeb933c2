"""Discordance rates of a paired binary design: where the planning assumptions come from.

A pairing unit runs the base and the treated arm on the same start; its
outcome pair is one of (yes, yes), (yes, no), (no, yes), (no, no). Only the two
discordant cells matter for the exact McNemar test, so a design is described
by ``p10 = P(treated yes, base no)`` and ``p01 = P(treated no, base yes)``:
the effect is ``delta = p10 - p01`` and the discordance ``psi = p10 + p01``.

Three ways to get them:

* :func:`rates_from_effect`: a planned effect plus an assumed discordance;
* :func:`rates_from_pilot`: the discordance measured in a pilot (two outcome
  sequences of an earlier run) plus the planned effect;
* :func:`rates_from_margins`: no pilot: the base rate, the planned effect and
  an assumed correlation (phi coefficient) between the paired outcomes. The
  default correlation is **0** (independent outcomes): pairing on the same
  start makes outcomes positively correlated in practice, which lowers the
  discordance and the units needed, so 0 is the conservative choice for any
  non-negative correlation. State a larger value only with evidence.

>>> r = rates_from_margins(base_rate=0.5, delta=0.1)
>>> (round(r.p10, 6), round(r.p01, 6), round(r.discordance, 6))
(0.3, 0.2, 0.5)
>>> r = rates_from_effect(0.1, 0.4)
>>> (round(r.p10, 6), round(r.p01, 6), round(r.split, 6))
(0.25, 0.15, 0.625)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from mistvla.harness.stats.mcnemar import discordant_counts

_EPS = 1e-12


@dataclass(frozen=True)
class DiscordanceRates:
    """``p10 = P(treated yes, base no)``, ``p01 = P(treated no, base yes)`` per pairing unit."""

    p10: float
    p01: float

    def __post_init__(self) -> None:
        if not (self.p10 >= 0 and self.p01 >= 0 and self.p10 + self.p01 <= 1 + _EPS):
            raise ValueError(f"need p10, p01 >= 0 and p10 + p01 <= 1, got p10={self.p10} p01={self.p01}")

    @property
    def discordance(self) -> float:
        """``psi = p10 + p01``: the probability that a unit is discordant."""
        return self.p10 + self.p01

    @property
    def delta(self) -> float:
        """``p10 - p01``: the paired difference of success rates (treated minus base)."""
        return self.p10 - self.p01

    @property
    def split(self) -> float:
        """``p10 / psi``: probability that a discordant unit favours the treated arm (NaN if psi = 0)."""
        return self.p10 / self.discordance if self.discordance > 0 else math.nan


def rates_from_effect(delta: float, discordance: float) -> DiscordanceRates:
    """Rates for an effect ``delta`` (fraction, treated minus base) at discordance ``psi >= |delta|``."""
    if not 0 < discordance <= 1:
        raise ValueError(f"discordance must be in (0, 1], got {discordance}")
    if abs(delta) > discordance + _EPS:
        raise ValueError(f"|effect| {abs(delta):g} cannot exceed the discordance {discordance:g}")
    return DiscordanceRates(max((discordance + delta) / 2, 0.0), max((discordance - delta) / 2, 0.0))


def rates_from_margins(base_rate: float, delta: float, correlation: float = 0.0) -> DiscordanceRates:
    """Rates from the base success rate, the effect and the phi correlation of the paired outcomes.

    ``P(both yes) = p0 p1 + rho sqrt(p0 (1 - p0) p1 (1 - p1))`` with
    ``p1 = p0 + delta``; the correlation must keep every cell in [0, 1].
    """
    p0, p1 = base_rate, base_rate + delta
    if not (0 < p0 < 1 and 0 < p1 < 1):
        raise ValueError(f"base rate {p0:g} and treated rate {p1:g} must both be in (0, 1)")
    if not -1 <= correlation <= 1:
        raise ValueError(f"correlation must be in [-1, 1], got {correlation}")
    p11 = p0 * p1 + correlation * math.sqrt(p0 * (1 - p0) * p1 * (1 - p1))
    lo, hi = max(0.0, p0 + p1 - 1), min(p0, p1)
    if not lo - _EPS <= p11 <= hi + _EPS:
        raise ValueError(f"correlation {correlation:g} is impossible for rates {p0:g} and {p1:g}")
    p11 = min(max(p11, lo), hi)
    return DiscordanceRates(p1 - p11, p0 - p11)


def observed_rates(treated: Sequence[bool], base: Sequence[bool]) -> DiscordanceRates:
    """The rates measured in paired outcome sequences (e.g. a pilot run): ``b / n`` and ``c / n``.

    >>> observed_rates([1, 0, 1, 1], [0, 1, 1, 1])
    DiscordanceRates(p10=0.25, p01=0.25)
    """
    b, c, n = discordant_counts(treated, base)
    if n == 0:
        raise ValueError("a pilot needs at least one pairing unit")
    return DiscordanceRates(b / n, c / n)


def rates_from_pilot(treated: Sequence[bool], base: Sequence[bool], delta: float) -> DiscordanceRates:
    """Plan for effect ``delta`` at the discordance a pilot measured (its own effect is not assumed).

    The pilot's discordance must be at least ``|delta|`` (else the planned
    effect is impossible at that discordance) and above zero.
    """
    psi = observed_rates(treated, base).discordance
    if psi == 0:
        raise ValueError("the pilot has no discordant unit; state the discordance as an assumption instead")
    return rates_from_effect(delta, psi)


__all__ = [
    "DiscordanceRates",
    "observed_rates",
    "rates_from_effect",
    "rates_from_margins",
    "rates_from_pilot",
]
