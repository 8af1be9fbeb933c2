"""Exact power of the exact McNemar test: brute force, planning, and validation by simulation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import multinomial

from mistvla.harness.stats.mcnemar import exact_p_value
from mistvla.harness.stats.power import exact_power, power_curve, rejection_bounds, units_needed
from mistvla.harness.stats.rates import (
    observed_rates,
    rates_from_effect,
    rates_from_margins,
    rates_from_pilot,
)
from mistvla.harness.stats.simulate import fixed_rejection_rate


@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
def test_exact_power_equals_enumeration_of_every_table(alternative: str) -> None:
    rates = rates_from_effect(0.15, 0.35)
    for n in (0, 1, 6, 23):
        want = sum(
            multinomial.pmf([b, c, n - b - c], n, [rates.p10, rates.p01, 1 - rates.discordance])
            for b in range(n + 1)
            for c in range(n + 1 - b)
            if n and exact_p_value(b, c, alternative) <= 0.05
        )
        assert abs(exact_power(n, rates, 0.05, alternative) - want) <= 1e-12


def test_rejection_bounds_agree_with_the_p_value_for_every_table() -> None:
    for alternative in ("two-sided", "greater", "less"):
        for alpha in (0.01, 0.05, 0.2):
            d = np.arange(0, 300)
            lo, hi = rejection_bounds(d, alpha, alternative)
            for total in (0, 1, 5, 6, 17, 120, 299):
                b = np.arange(total + 1)
                rejects = exact_p_value(b, total - b, alternative) <= alpha
                assert np.array_equal(rejects, (b <= lo[total]) | (b >= hi[total])), (
                    alternative,
                    alpha,
                    total,
                )


def test_power_under_the_null_is_at_most_alpha() -> None:
    assert max(power_curve(200, rates_from_effect(0.0, 0.3))) <= 0.05


@pytest.mark.parametrize(("delta", "psi"), [(0.1, 0.2), (0.1, 0.4), (0.2, 0.3), (0.2, 0.5)])
def test_planned_n_reaches_the_target_power_in_simulation(delta: float, psi: float) -> None:
    plan = units_needed(rates_from_effect(delta, psi))
    assert plan.power >= 0.8 and plan.min_power_in_window >= 0.8
    assert exact_power(plan.n - 1, plan.rates) < 0.8  # smallest such n (power rises monotonically here)
    simulated = fixed_rejection_rate(plan.n, plan.rates, studies=2000, seed=1)
    assert abs(simulated - 0.8) <= 0.03
    assert abs(simulated - plan.power) <= 3 * np.sqrt(plan.power * (1 - plan.power) / 2000)


def test_one_sided_needs_fewer_units_and_wrong_direction_is_refused() -> None:
    rates = rates_from_effect(0.1, 0.3)
    assert units_needed(rates, alternative="greater").n < units_needed(rates).n
    with pytest.raises(ValueError, match="cannot be detected"):
        units_needed(rates, alternative="less")
    with pytest.raises(ValueError, match="max_units"):
        units_needed(rates_from_effect(0.001, 0.5), max_units=1000)


def test_rates_from_pilots_and_assumptions() -> None:
    treated = [1, 1, 0, 1, 0, 1, 1, 0, 1, 1]
    base = [0, 1, 1, 1, 0, 0, 1, 0, 1, 1]
    assert observed_rates(treated, base).p10 == pytest.approx(0.2)
    planned = rates_from_pilot(treated, base, 0.1)  # pilot discordance 0.3, planned effect 10pp
    assert (planned.discordance, planned.delta) == pytest.approx((0.3, 0.1))
    with pytest.raises(ValueError, match="cannot exceed the discordance"):
        rates_from_pilot(treated, base, 0.5)
    independent = rates_from_margins(0.5, 0.1)
    correlated = rates_from_margins(0.5, 0.1, correlation=0.5)
    assert correlated.discordance < independent.discordance  # positive correlation: fewer units needed
    assert units_needed(correlated).n < units_needed(independent).n
    with pytest.raises(ValueError, match="impossible"):
        rates_from_margins(0.9, 0.05, correlation=-1.0)
