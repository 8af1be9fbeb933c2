"""Anytime-valid test of one paired binary difference: a beta-mixture e-process on the discordant units.

Under H0 (``p10 = p01`` for every unit) a discordant unit favours the treated
arm with probability 1/2, whatever happened before; concordant units say
nothing. The mixture likelihood ratio

    E_t = 2^d * B(a + b, a + c) / B(a, a)        (two-sided, prior Beta(a, a) on pi)

after ``b`` treated-side and ``c`` base-side discordant units (``d = b + c``)
is a nonnegative martingale with ``E_0 = 1`` under H0, so by **Ville's
inequality** ``P(sup_t E_t >= 1/alpha) <= alpha``: rejecting the first time
``E_t >= 1/alpha`` keeps the type-I error at ``alpha`` however often one looks
and whenever one stops. The one-sided variants put the prior on one half only
(``pi > 1/2`` for ``"greater"``, i.e. treated better), which multiplies by
``2 P(pi > 1/2 | b, c)`` under the posterior ``Beta(a + b, a + c)``; they are
supermartingales under the whole one-sided null (``p10 <= p01``).

``a`` sets which effects the test is tuned to: :func:`prior_for_split` centres
the prior's spread on a planned split ``pi = p10 / (p10 + p01)``.

>>> e = PairedEProcess()
>>> for treated, base in [(1, 0)] * 8:
...     _ = e.update(treated, base)
>>> (e.b, e.c, e.n_units, round(e.e_value, 2))
(8, 0, 8, 28.44)
>>> round(float(np.exp(log_e_value(8, 0, "greater"))), 2)  # 2 * 28.44 * P(pi > 1/2 | Beta(9, 1))
56.78
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import betainc, betaln

from mistvla.harness.stats.mcnemar import ALTERNATIVES

DEFAULT_PRIOR_A = 1.0


def prior_for_split(split: float) -> float:
    """Beta(a, a) parameter whose standard deviation equals ``|split - 1/2|`` (at least 0.5).

    >>> round(prior_for_split(2 / 3), 6)
    4.0
    """
    gap = abs(split - 0.5)
    if not 0 < gap <= 0.5:
        raise ValueError(f"split must be in [0, 1] and differ from 1/2, got {split}")
    return max(0.5, (1 / (4 * gap**2) - 1) / 2)


def log_e_value(b: np.ndarray | int, c: np.ndarray | int, alternative: str = "two-sided",
                prior_a: float = DEFAULT_PRIOR_A) -> np.ndarray:  # fmt: skip
    """``log E`` after ``b`` treated-side and ``c`` base-side discordant units (vectorised)."""
    if alternative not in ALTERNATIVES:
        raise ValueError(f"alternative must be one of {list(ALTERNATIVES)}, got {alternative!r}")
    if prior_a <= 0:
        raise ValueError(f"prior_a must be > 0, got {prior_a}")
    b = np.asarray(b, dtype=float)
    c = np.asarray(c, dtype=float)
    a = prior_a
    out = (b + c) * math.log(2) + betaln(a + b, a + c) - betaln(a, a)
    if alternative == "two-sided":
        return out
    upper = betainc(a + c, a + b, 0.5)  # posterior P(pi > 1/2), by the Beta symmetry
    tail = upper if alternative == "greater" else betainc(a + b, a + c, 0.5)
    with np.errstate(divide="ignore"):
        return out + math.log(2) + np.log(tail)


class PairedEProcess:
    """The e-process of one paired comparison, updated one pairing unit at a time."""

    def __init__(self, alternative: str = "two-sided", prior_a: float = DEFAULT_PRIOR_A) -> None:
        log_e_value(0, 0, alternative, prior_a)  # validates both
        self.alternative = alternative
        self.prior_a = prior_a
        self.b = 0
        self.c = 0
        self.n_units = 0

    def update(self, treated: bool, base: bool) -> float:
        """Add one unit's outcomes (truthy = success); returns the new e-value."""
        self.b += int(bool(treated) and not bool(base))
        self.c += int(bool(base) and not bool(treated))
        self.n_units += 1
        return self.e_value

    @property
    def log_e(self) -> float:
        return float(log_e_value(self.b, self.c, self.alternative, self.prior_a))

    @property
    def e_value(self) -> float:
        """``E_t``; ``>= 1/alpha`` rejects H0 at level ``alpha`` (at any stopping time)."""
        return math.exp(min(self.log_e, 700.0))


__all__ = ["DEFAULT_PRIOR_A", "PairedEProcess", "log_e_value", "prior_for_split"]
