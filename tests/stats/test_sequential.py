"""The beta-mixture e-process and the SequentialMonitor: martingale property, validity under monitoring, stopping."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.stats import beta as beta_dist

from mistvla.harness.stats.eprocess import PairedEProcess, log_e_value, prior_for_split
from mistvla.harness.stats.power import units_needed
from mistvla.harness.stats.rates import rates_from_effect
from mistvla.harness.stats.sequential import Question, SequentialMonitor
from mistvla.harness.stats.simulate import (
    crossing_units,
    draw_units,
    peeking_rejection_rate,
    sequential_outcome,
    units_run,
)


@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
def test_e_value_is_the_mixture_likelihood_ratio(alternative: str) -> None:
    a = 2.5
    lo, hi, mass = {"two-sided": (0, 1, 1.0), "greater": (0.5, 1, 0.5), "less": (0, 0.5, 0.5)}[alternative]
    for b, c in [(0, 0), (3, 1), (1, 7), (20, 12)]:
        marginal = quad(lambda p, b=b, c=c: p**b * (1 - p) ** c * beta_dist.pdf(p, a, a), lo, hi)[0] / mass
        assert math.exp(log_e_value(b, c, alternative, a)) == pytest.approx(
            marginal / 0.5 ** (b + c), rel=1e-8
        )


@pytest.mark.parametrize("alternative", ["two-sided", "greater"])
def test_e_process_has_expectation_one_under_the_null(alternative: str) -> None:
    # exact expectation after d discordant units: sum_b Binom(b; d, 1/2) E(b, d - b) = 1
    for d in (1, 5, 40):
        b = np.arange(d + 1)
        weights = (
            np.exp([math.lgamma(d + 1) - math.lgamma(k + 1) - math.lgamma(d - k + 1) for k in b]) * 0.5**d
        )
        assert float(np.sum(weights * np.exp(log_e_value(b, d - b, alternative, 1.5)))) == pytest.approx(1.0)


def test_continuous_monitoring_keeps_the_false_positive_rate_below_alpha() -> None:
    null = rates_from_effect(0.0, 0.4)
    for alternative in ("two-sided", "greater"):
        fpr = sequential_outcome(null, 400, alternative=alternative, studies=2000, seed=3).rejected
        assert fpr <= 0.05, (alternative, fpr)
    assert (
        peeking_rejection_rate(null, 400, studies=2000, seed=3) > 0.1
    )  # what the e-process protects against


def test_sequential_power_and_saving_at_the_planned_effect() -> None:
    rates = rates_from_effect(0.2, 0.4)
    n_fixed = units_needed(rates).n
    seq = sequential_outcome(rates, n_fixed, prior_a=prior_for_split(rates.split), studies=2000, seed=4)
    assert 0.45 <= seq.rejected <= 0.8  # less power than the fixed test at the same max
    assert 0.15 <= seq.saving_vs(n_fixed) <= 0.5
    longer = sequential_outcome(
        rates, 2 * n_fixed, prior_a=prior_for_split(rates.split), studies=2000, seed=4
    )
    assert longer.rejected >= 0.85


def test_monitor_resolves_questions_and_stops() -> None:
    m = SequentialMonitor(
        [Question("a/sr", "greater"), Question("b/sr")], alpha=0.05, min_units=3, max_units=50
    )
    assert m.threshold == 40  # Bonferroni: alpha / 2 per question
    decision = m.decision()
    assert not decision.stop
    for _ in range(10):
        decision = m.update({"a/sr": (True, False), "b/sr": (True, True)})
    assert decision.questions[0].resolved and not decision.questions[1].resolved and not decision.stop
    while not decision.stop:
        decision = m.update({"a/sr": None, "b/sr": (False, True)})
    assert decision.n_units == 19 and decision.reason == "all 2 questions resolved"
    assert decision.questions[0].n_units == 10 and decision.questions[1].c == 9
    lo, hi = decision.questions[1].split_interval  # two-sided question resolved: 1/2 is outside
    assert hi < 0.5 and lo == 0.0


def test_monitor_respects_min_and_max_units_and_bad_input() -> None:
    m = SequentialMonitor([Question("a/sr")], alpha=0.05, min_units=30, max_units=40)
    for _ in range(20):
        decision = m.update({"a/sr": (True, False)})
    assert decision.questions[0].resolved and not decision.stop
    assert decision.reason == "all resolved; continuing to min_units=30"
    for _ in range(10):
        decision = m.update({"a/sr": (False, False)})
    assert decision.stop and decision.n_units == 30
    m = SequentialMonitor([Question("a/sr")], max_units=2)
    m.update({"a/sr": (True, True)})
    assert m.update({"a/sr": (True, True)}).reason == "max_units=2 reached; 0 of 1 questions resolved"
    with pytest.raises(ValueError, match="already reached"):
        m.update({"a/sr": (True, True)})
    with pytest.raises(ValueError, match="exactly"):
        SequentialMonitor([Question("a/sr")]).update({"b/sr": (True, True)})
    with pytest.raises(ValueError, match="distinct"):
        SequentialMonitor([Question("a"), Question("a")])
    with pytest.raises(ValueError, match="alternative"):
        PairedEProcess("bigger")


def test_monitor_makes_the_same_decisions_as_the_vectorised_simulation() -> None:
    rates = rates_from_effect(0.2, 0.4)
    crossings = crossing_units(rates, 120, 0.05, "greater", 2.0, studies=60, seed=5)
    draws = draw_units(rates, 120, 60, np.random.default_rng(5))  # the same draws crossing_units made
    assert 0 < np.sum(crossings > 0) < 60  # both outcomes occur
    for study, want in zip(draws, crossings, strict=True):
        m = SequentialMonitor([Question("q", "greater", 2.0)], alpha=0.05, min_units=0, max_units=120)
        for unit in study:
            decision = m.update({"q": (unit == 1, unit == -1)})
            if decision.stop:
                break
        assert (decision.questions[0].resolved_at or 0) == want
        assert decision.n_units == units_run(np.array([want]), 120, 0)[0]
