"""Confidence sequence for the discordance split ``pi = p10 / (p10 + p01)``, valid at every unit at once.

From the same beta mixture as :mod:`.eprocess`: for each candidate ``pi`` the
mixture likelihood ratio ``M_t(pi) = B(a + b, a + c) / (B(a, a) pi^b (1 - pi)^c)``
is a nonnegative martingale with mean 1 when ``pi`` is the truth, so the set
``{pi : M_t(pi) < 1/alpha}`` misses the true split at *any* unit with
probability at most ``alpha`` (Ville's inequality): the intervals may be
reported after every unit and at a data-dependent stop. The set is an
interval around ``b / (b + c)`` (``b log pi + c log(1 - pi)`` is concave);
it contains 1/2 exactly when the two-sided e-process (same ``a``) is below
``1/alpha``. ``pi > 1/2`` means the treated arm wins most discordant units.

>>> lo, hi = split_confidence_sequence(30, 10)
>>> round(lo, 3), round(hi, 3)
(0.512, 0.914)
>>> split_confidence_sequence(0, 0)
(0.0, 1.0)
"""

from __future__ import annotations

import math

from scipy.optimize import brentq
from scipy.special import betaln

from mistvla.harness.stats.eprocess import DEFAULT_PRIOR_A


def split_confidence_sequence(b: int, c: int, alpha: float = 0.05,
                              prior_a: float = DEFAULT_PRIOR_A) -> tuple[float, float]:  # fmt: skip
    """``(lo, hi)`` of the ``1 - alpha`` confidence sequence for the split after ``b``, ``c`` discordant units."""
    if b < 0 or c < 0 or not 0 < alpha < 1 or prior_a <= 0:
        raise ValueError(f"need b, c >= 0, alpha in (0, 1), prior_a > 0; got {b}, {c}, {alpha}, {prior_a}")
    level = betaln(prior_a + b, prior_a + c) - betaln(prior_a, prior_a) + math.log(alpha)

    def excess(p: float) -> float:  # > 0 inside the set
        return (b * math.log(p) if b else 0.0) + (c * math.log1p(-p) if c else 0.0) - level

    if b + c == 0:
        return 0.0, 1.0
    mode = b / (b + c)
    tiny = 1e-15
    lo = 0.0 if b == 0 else brentq(excess, tiny, mode, xtol=1e-12)
    hi = 1.0 if c == 0 else brentq(excess, mode, 1 - tiny, xtol=1e-12)
    return float(lo), float(hi)


__all__ = ["split_confidence_sequence"]
