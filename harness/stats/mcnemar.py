"""Exact McNemar test on paired binary outcomes (treated vs base on the same pairing unit).

Only the *discordant* pairs carry information about a difference: ``b`` units
where the treated arm succeeded and the base failed, ``c`` the other way round.
Under H0 (``P(treated yes, base no) = P(treated no, base yes)``) each discordant
pair falls on the treated side with probability 1/2, so ``b ~ Binom(b + c, 1/2)``
given ``b + c``. The two-sided p-value is ``min(1, 2 * P(X <= min(b, c)))``, the
formula of statsmodels' ``mcnemar(table, exact=True)``; it is 1 when there is no
discordant pair. The one-sided variants are ``P(X >= b)`` (``"greater"``:
treated better) and ``P(X <= b)`` (``"less"``). With no pair at all the test is
untestable and the p-value is NaN (multiplicity passes NaN through).

>>> r = mcnemar_exact([1, 1, 1, 0, 1], [0, 0, 0, 0, 1])
>>> (r.b, r.c, r.n_pairs, round(r.p_value, 4))
(3, 0, 5, 0.25)
>>> round(mcnemar_from_counts(3, 0, 5, alternative="greater").p_value, 4)
0.125
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.stats import binom

Alternative = Literal["two-sided", "greater", "less"]
ALTERNATIVES: tuple[str, ...] = ("two-sided", "greater", "less")


@dataclass(frozen=True)
class McNemarResult:
    """One paired comparison: discordant counts, number of pairs and the exact p-value.

    ``b``: treated yes / base no; ``c``: treated no / base yes; ``n_pairs``: all
    pairs, concordant included. ``p_value`` is NaN when ``n_pairs == 0``.
    """

    b: int
    c: int
    n_pairs: int
    p_value: float
    alternative: str = "two-sided"

    @property
    def discordant(self) -> int:
        """Number of discordant pairs ``b + c``."""
        return self.b + self.c

    @property
    def delta(self) -> float:
        """Paired difference of rates ``(b - c) / n_pairs`` (NaN without pairs)."""
        return (self.b - self.c) / self.n_pairs if self.n_pairs else math.nan


def exact_p_value(b: int | np.ndarray, c: int | np.ndarray, alternative: str = "two-sided") -> np.ndarray:
    """Exact binomial p-value on the discordant counts; vectorised over arrays of ``b`` and ``c``.

    >>> float(exact_p_value(0, 0))
    1.0
    >>> [round(float(p), 6) for p in exact_p_value(np.array([1, 9]), np.array([9, 1]))]
    [0.021484, 0.021484]
    """
    b = np.asarray(b)
    c = np.asarray(c)
    d = b + c
    if alternative == "two-sided":
        return np.minimum(binom.cdf(np.minimum(b, c), d, 0.5) * 2, 1.0)
    if alternative == "greater":
        return binom.sf(b - 1, d, 0.5)
    if alternative == "less":
        return binom.cdf(b, d, 0.5)
    raise ValueError(f"alternative must be one of {list(ALTERNATIVES)}, got {alternative!r}")


def mcnemar_from_counts(b: int, c: int, n_pairs: int, alternative: str = "two-sided") -> McNemarResult:
    """The test from counts; ``n_pairs`` must be at least ``b + c``."""
    if b < 0 or c < 0 or n_pairs < b + c:
        raise ValueError(f"need 0 <= b, c and b + c <= n_pairs, got b={b} c={c} n_pairs={n_pairs}")
    p = math.nan if n_pairs == 0 else float(exact_p_value(b, c, alternative))
    return McNemarResult(int(b), int(c), int(n_pairs), p, alternative)


def discordant_counts(treated: Sequence[bool], base: Sequence[bool]) -> tuple[int, int, int]:
    """``(b, c, n_pairs)`` of two equal-length outcome sequences (truthy = success).

    >>> discordant_counts([True, False, True], [False, True, True])
    (1, 1, 3)
    """
    t = np.asarray(treated, dtype=bool)
    s = np.asarray(base, dtype=bool)
    if t.shape != s.shape or t.ndim != 1:
        raise ValueError(f"treated and base must be 1-d and of equal length, got {t.shape} and {s.shape}")
    return int(np.sum(t & ~s)), int(np.sum(~t & s)), int(t.size)


def mcnemar_exact(
    treated: Sequence[bool], base: Sequence[bool], alternative: str = "two-sided"
) -> McNemarResult:
    """Exact McNemar test of the paired outcomes ``treated[i]`` vs ``base[i]`` (same pairing unit ``i``)."""
    return mcnemar_from_counts(*discordant_counts(treated, base), alternative=alternative)


__all__ = [
    "ALTERNATIVES",
    "McNemarResult",
    "discordant_counts",
    "exact_p_value",
    "mcnemar_exact",
    "mcnemar_from_counts",
]
