"""The confidence sequence for the discordance split: time-uniform coverage and agreement with the e-process."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import betaln

from mistvla.harness.stats.confseq import split_confidence_sequence
from mistvla.harness.stats.eprocess import log_e_value


def _inside(p: float, b: np.ndarray, c: np.ndarray, a: float, alpha: float) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        loglik = np.where(b > 0, b * np.log(p), 0.0) + np.where(c > 0, c * np.log1p(-p), 0.0)
    return loglik > betaln(a + b, a + c) - betaln(a, a) + math.log(alpha)


def test_endpoints_bound_exactly_the_set() -> None:
    for b, c in [(0, 1), (1, 0), (3, 2), (30, 10), (0, 50), (400, 380)]:
        lo, hi = split_confidence_sequence(b, c)
        assert 0 <= lo <= b / (b + c) <= hi <= 1
        grid = np.linspace(1e-6, 1 - 1e-6, 2001)
        inside = np.array([_inside(p, np.array(b), np.array(c), 1.0, 0.05) for p in grid])
        clearly_in = (grid > lo + 1e-6) & (grid < hi - 1e-6)
        clearly_out = (grid < lo - 1e-6) | (grid > hi + 1e-6)
        assert inside[clearly_in].all() and not inside[clearly_out].any(), (b, c)


def test_half_is_inside_exactly_when_the_two_sided_e_value_is_below_one_over_alpha() -> None:
    for b in range(0, 40, 3):
        for c in range(0, 40, 4):
            lo, hi = split_confidence_sequence(b, c, prior_a=2.0)
            assert (lo < 0.5 < hi) == (log_e_value(b, c, "two-sided", 2.0) < math.log(20)), (b, c)


def test_time_uniform_coverage_over_monitored_sequences() -> None:
    rng = np.random.default_rng(0)
    for true in (0.5, 0.7, 0.9):
        draws = rng.random((2000, 300)) < true
        b = np.cumsum(draws, axis=1)
        c = np.arange(1, 301) - b
        missed = ~_inside(true, b, c, 1.0, 0.05)
        assert missed.any(axis=1).mean() <= 0.05, true


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="alpha in"):
        split_confidence_sequence(1, 1, alpha=1.5)
