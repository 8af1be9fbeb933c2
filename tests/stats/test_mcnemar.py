"""The exact McNemar test against statsmodels' mcnemar(exact=True), to 1e-12."""

from __future__ import annotations

import math

import numpy as np
import pytest
from statsmodels.stats.contingency_tables import mcnemar

from mistvla.harness.stats.mcnemar import discordant_counts, mcnemar_exact, mcnemar_from_counts


def _statsmodels_p(b: int, c: int, concordant: int = 0) -> float:
    table = np.array([[0, b], [c, concordant]])  # off-diagonals: the discordant pairs
    return float(mcnemar(table, exact=True).pvalue)


def _tables() -> list[tuple[int, int]]:
    rng = np.random.default_rng(0)
    edge = [(0, 0), (0, 1), (1, 0), (0, 25), (40, 0), (7, 7), (1, 1), (0, 700), (350, 349), (2000, 1900)]
    random = [
        tuple(int(x) for x in rng.integers(0, hi, size=2)) for hi in (5, 30, 200, 3000) for _ in range(100)
    ]
    return edge + random


def test_two_sided_p_matches_statsmodels_over_many_tables() -> None:
    worst = max(
        abs(mcnemar_from_counts(b, c, b + c + 3).p_value - _statsmodels_p(b, c, 3)) for b, c in _tables()
    )
    assert worst <= 1e-12


def test_sequences_give_the_counts_and_the_same_p() -> None:
    rng = np.random.default_rng(1)
    for n in (1, 10, 700):
        treated, base = rng.random(n) < 0.6, rng.random(n) < 0.4
        r = mcnemar_exact(treated, base)
        table = np.array(
            [
                [np.sum(treated & base), np.sum(treated & ~base)],
                [np.sum(~treated & base), np.sum(~treated & ~base)],
            ]
        )
        assert (r.b, r.c, r.n_pairs) == (table[0, 1], table[1, 0], n)
        assert abs(r.p_value - mcnemar(table, exact=True).pvalue) <= 1e-12


def test_edge_cases() -> None:
    assert mcnemar_from_counts(0, 0, 20).p_value == 1.0  # no discordant pair
    assert mcnemar_exact([True] * 8, [False] * 8).p_value == pytest.approx(2 * 0.5**8, abs=1e-15)
    empty = mcnemar_exact([], [])
    assert math.isnan(empty.p_value) and math.isnan(empty.delta) and empty.n_pairs == 0
    assert mcnemar_from_counts(5, 1, 10).delta == pytest.approx(0.4)


def test_one_sided_p_values_are_binomial_tails() -> None:
    from scipy.stats import binomtest

    for b, c in [(0, 0), (3, 0), (0, 3), (12, 5), (5, 12), (300, 260)]:
        for alt in ("greater", "less"):
            want = binomtest(b, b + c, 0.5, alternative=alt).pvalue if b + c else 1.0
            assert abs(mcnemar_from_counts(b, c, b + c + 1, alt).p_value - want) <= 1e-12


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="equal length"):
        discordant_counts([True], [True, False])
    with pytest.raises(ValueError, match="b \\+ c <= n_pairs"):
        mcnemar_from_counts(3, 3, 5)
    with pytest.raises(ValueError, match="alternative"):
        mcnemar_from_counts(1, 1, 2, alternative="bigger")
