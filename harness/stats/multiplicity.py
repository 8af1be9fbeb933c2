"""Holm-Bonferroni adjusted p-values for a family of tests (the rows of one table).

Holm's step-down procedure controls the family-wise error rate at ``alpha`` under
any dependence between the tests: reject every hypothesis whose adjusted p-value
is ``<= alpha``. The adjusted value of the ``i``-th smallest of ``m`` p-values is
``min(1, max_{j <= i} (m - j + 1) p_(j))``, as statsmodels'
``multipletests(method="holm")`` computes it.

The output keeps the input order. **NaN entries** (untestable rows, e.g. no
pairs) are passed through as NaN and are **not counted in the family size**
``m``: a row that cannot be tested cannot be a false rejection, so it needs no
share of ``alpha``.

>>> holm_adjust([0.01, 0.04, 0.03])
[0.03, 0.06, 0.06]
>>> holm_adjust([0.01, float("nan"), 0.04])
[0.02, nan, 0.04]
>>> holm_adjust([])
[]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def holm_adjust(p_values: Sequence[float]) -> list[float]:
    """Holm-adjusted p-values in the input order; NaN stays NaN and is left out of the family."""
    p = np.asarray(p_values, dtype=float)
    if p.ndim != 1:
        raise ValueError(f"p_values must be a flat sequence, got shape {p.shape}")
    if np.any((p < 0) | (p > 1)):
        raise ValueError(f"p-values must be in [0, 1], got {p.tolist()}")
    out = np.full(p.shape, np.nan)
    valid = np.flatnonzero(~np.isnan(p))
    m = valid.size
    if m:
        order = valid[np.argsort(p[valid], kind="stable")]
        stepped = np.maximum.accumulate(p[order] * np.arange(m, 0, -1))
        out[order] = np.minimum(stepped, 1.0)
    return out.tolist()


def holm_reject(p_values: Sequence[float], alpha: float = 0.05) -> list[bool]:
    """Which hypotheses Holm rejects at family-wise level ``alpha`` (NaN rows: never).

    >>> holm_reject([0.01, 0.04, 0.03], alpha=0.05)
    [True, False, False]
    """
    return [bool(q <= alpha) for q in holm_adjust(p_values)]


__all__ = ["holm_adjust", "holm_reject"]
