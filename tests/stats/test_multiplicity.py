"""Holm-Bonferroni against statsmodels' multipletests(method="holm"), to 1e-12."""

from __future__ import annotations

import math

import numpy as np
import pytest
from statsmodels.stats.multitest import multipletests

from mistvla.harness.stats.multiplicity import holm_adjust, holm_reject


def test_matches_statsmodels_on_random_families() -> None:
    rng = np.random.default_rng(0)
    worst = 0.0
    for _ in range(60):  # multipletests runs gc.collect() on every call (~60 ms)
        m = int(rng.integers(1, 25))
        p = rng.random(m) ** rng.choice([1, 3, 8])  # skewed to small p-values too
        if rng.random() < 0.3:
            p[rng.integers(0, m)] = p[0]  # ties
        got = np.array(holm_adjust(p))
        want = multipletests(p, method="holm")[1]
        worst = max(worst, float(np.max(np.abs(got - want))))
    assert worst <= 1e-12


def test_nan_rows_pass_through_and_do_not_count_in_the_family() -> None:
    p = [0.01, math.nan, 0.02, math.nan, 0.5]
    got = holm_adjust(p)
    want = multipletests([0.01, 0.02, 0.5], method="holm")[1]
    assert math.isnan(got[1]) and math.isnan(got[3])
    assert np.allclose([got[0], got[2], got[4]], want, atol=1e-12, rtol=0)
    assert holm_reject(p, 0.05) == [True, False, True, False, False]
    assert all(math.isnan(x) for x in holm_adjust([math.nan, math.nan]))


def test_edge_values() -> None:
    assert holm_adjust([0.0, 1.0]) == [0.0, 1.0]
    assert holm_adjust([0.6, 0.7]) == [1.0, 1.0]  # clipped at 1
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        holm_adjust([1.5])
