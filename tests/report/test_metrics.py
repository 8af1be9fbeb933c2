"""Metrics on hand-computed cases and against statsmodels / scipy reference implementations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from mistvla.harness.report import metrics as m
from mistvla.harness.stats.intervals import (
    cluster_bootstrap_mean,
    clustered_rate,
    design_effect,
    paired_bootstrap_delta,
    wilson_interval,
)


def ep(
    intervention: str = "none",
    task: int = 0,
    init: int = 0,
    seed: int = 0,
    success: bool = False,
    collisions: int = 0,
    interventions: int = 0,
    suite: str = "libero_spatial",
    repeat: int = 0,
) -> dict:
    """A minimal episode record with the fields the metrics read."""
    return {
        "policy": "pi",
        "intervention": intervention,
        "suite": suite,
        "task": f"task{task}",
        "task_index": task,
        "init_state": init,
        "seed": seed,
        "repeat": repeat,
        "success": success,
        "n_collision_onsets": collisions,
        "n_interventions": interventions,
    }


# ---------------------------------------------------------------- Wilson and design effect


@pytest.mark.parametrize("n", [1, 2, 7, 30, 200])
@pytest.mark.parametrize("conf", [0.9, 0.95, 0.99])
def test_wilson_matches_statsmodels(n: int, conf: float) -> None:
    for k in sorted({0, 1, n // 3, n // 2, n - 1, n}):
        ref = proportion_confint(k, n, alpha=1 - conf, method="wilson")
        assert wilson_interval(k, n, conf) == pytest.approx(ref, abs=1e-12)


def test_wilson_rates_zero_and_one_get_proper_intervals() -> None:
    lo0, hi0 = wilson_interval(0, 20)
    lo1, hi1 = wilson_interval(20, 20)
    assert lo0 == 0.0 and 0.1 < hi0 < 0.2
    assert hi1 == 1.0 and 0.8 < lo1 < 0.9
    assert lo1 == pytest.approx(1 - hi0)


def test_empty_sample_gives_flagged_nan_not_zero() -> None:
    assert all(math.isnan(x) for x in wilson_interval(0, 0))
    e = clustered_rate([], [])
    assert e.flag == "n=0" and not e.ok
    assert math.isnan(e.value) and math.isnan(e.lo) and math.isnan(e.hi)
    assert m.success_rate([]).flag == "n=0"
    assert m.collisions_per_episode([]).flag == "n=0"
    assert m.delta_success_rate([], []).flag == "n=0"
    # RR(a) with no triggered episode: NaN, not 0
    rr = m.recovery_rate_triggered([ep("x", success=True)])
    assert rr.flag == "n=0" and math.isnan(rr.value)


def test_design_effect_hand_computed_unequal_clusters() -> None:
    # A=[1,1,1,0], B=[0,0], C=[1,0]; grand mean 0.5.
    # SSB = 4*.25^2 + 2*.5^2 + 2*0 = .75, MSB = .375; SSW = .75 + 0 + .5 = 1.25, MSW = .25
    # m0 = (8 - 24/8)/2 = 2.5; ICC = (.375-.25)/(.375+1.5*.25) = 1/6; m_w = 24/8 = 3; deff = 1 + 2/6
    values = [1, 1, 1, 0, 0, 0, 1, 0]
    clusters = list("AAAABBCC")
    deff, icc = design_effect(values, clusters)
    assert icc == pytest.approx(1 / 6)
    assert deff == pytest.approx(4 / 3)


def test_design_effect_bounds() -> None:
    assert design_effect([1, 1, 1, 0, 0, 0], list("aaabbb")) == (3.0, 1.0)  # fully clustered: deff = m
    assert design_effect([1, 0, 1, 0], list("abcd"))[0] == 1.0  # singletons
    assert design_effect([0, 0, 0, 0], list("aabb"))[0] == 1.0  # ICC not estimable
    # negative ICC (within-cluster anti-correlation) never narrows the interval
    assert design_effect([1, 0, 1, 0, 1, 0], list("aabbcc"))[0] == 1.0


def test_clustered_rate_is_wilson_on_effective_n() -> None:
    outcomes = [1, 1, 1, 0, 0, 0, 1, 0]
    e = clustered_rate([bool(x) for x in outcomes], list("AAAABBCC"))
    assert e.method == "wilson-deff" and e.n_episodes == 8 and e.n_clusters == 3
    assert e.n_effective == pytest.approx(6.0)
    ref = proportion_confint(4 / (4 / 3), 6.0, method="wilson")
    assert (e.lo, e.hi) == pytest.approx(ref, abs=1e-12)
    plain = proportion_confint(4, 8, method="wilson")
    assert e.hi - e.lo > plain[1] - plain[0]


def test_deff_wilson_covers_clustered_data_where_plain_wilson_does_not() -> None:
    """Beta-binomial clusters (ICC 0.3): the adjusted interval keeps ~95% coverage, plain Wilson falls short."""
    rng = np.random.default_rng(123)
    p_true, icc, n_clusters, size = 0.4, 0.3, 30, 5
    a = p_true * (1 - icc) / icc
    b = (1 - p_true) * (1 - icc) / icc
    clusters = np.repeat(np.arange(n_clusters), size)
    cover_adj = cover_plain = 0
    sims = 400
    for _ in range(sims):
        p_c = rng.beta(a, b, n_clusters)
        y = rng.random(n_clusters * size) < p_c[clusters]
        e = clustered_rate(y, clusters)
        cover_adj += e.lo <= p_true <= e.hi
        lo, hi = wilson_interval(int(y.sum()), y.size)
        cover_plain += lo <= p_true <= hi
    # measured: adjusted 0.95, plain 0.785 (with only 12 clusters the adjusted one drops to ~0.89)
    assert cover_adj / sims >= 0.92
    assert cover_plain / sims < 0.85
    assert cover_adj > cover_plain + 0.08 * sims


# ---------------------------------------------------------------- bootstrap


def test_cluster_bootstrap_matches_scipy_on_independent_data() -> None:
    rng = np.random.default_rng(5)
    x = rng.poisson(1.3, 80).astype(float)
    ours = cluster_bootstrap_mean(x, list(range(80)), resamples=4000, seed=1)
    ref = stats.bootstrap((x,), np.mean, n_resamples=4000, method="percentile", rng=2).confidence_interval
    assert ours.value == pytest.approx(x.mean())
    assert ours.lo == pytest.approx(ref.low, abs=0.06)
    assert ours.hi == pytest.approx(ref.high, abs=0.06)


def test_paired_bootstrap_matches_scipy_paired_on_independent_pairs() -> None:
    rng = np.random.default_rng(7)
    base = (rng.random(100) < 0.4).astype(float)
    treated = np.where(rng.random(100) < 0.3, 1.0, base)
    ours = paired_bootstrap_delta(treated, base, list(range(100)), resamples=4000, seed=3)
    ref = stats.bootstrap(
        (treated, base),
        lambda t, b: np.mean(t - b),
        paired=True,
        n_resamples=4000,
        method="percentile",
        rng=4,
    ).confidence_interval
    assert ours.value == pytest.approx(np.mean(treated - base))
    assert ours.lo == pytest.approx(ref.low, abs=0.025)
    assert ours.hi == pytest.approx(ref.high, abs=0.025)


def test_bootstrap_is_seeded_and_respects_clusters() -> None:
    y = [1.0] * 5 + [0.0] * 5 + [1.0] * 5 + [0.0] * 5
    clustered = cluster_bootstrap_mean(y, np.repeat(np.arange(4), 5), seed=9)
    again = cluster_bootstrap_mean(y, np.repeat(np.arange(4), 5), seed=9)
    independent = cluster_bootstrap_mean(y, np.arange(20), seed=9)
    assert (clustered.lo, clustered.hi) == (again.lo, again.hi)
    assert clustered.n_clusters == 4 and independent.n_clusters == 20
    # 4 perfectly correlated clusters carry far less information than 20 independent episodes
    assert clustered.hi - clustered.lo > 1.5 * (independent.hi - independent.lo)


# ---------------------------------------------------------------- episode metrics


def test_sr_cr_collisions_intervention_rate_hand_computed() -> None:
    eps = [
        ep(task=0, success=True),
        ep(task=1, success=True, collisions=2),
        ep(task=2, success=False, collisions=1, interventions=3),
        ep(task=3, success=False),
    ]
    assert m.success_rate(eps).value == 0.5
    assert m.collision_rate(eps).value == 0.5
    assert m.clean_success_rate(eps).value == 0.25
    assert m.intervention_rate(eps).value == 0.25
    assert m.collisions_per_episode(eps).value == 0.75
    sr = m.success_rate(eps)
    assert (sr.lo, sr.hi) == pytest.approx(proportion_confint(2, 4, method="wilson"))
    assert sr.n_episodes == 4 and sr.n_clusters == 4


def test_rr_a_counts_only_triggered_episodes_and_needs_clean_success() -> None:
    eps = [
        ep("s", task=0, success=True, interventions=1),  # recovered
        ep("s", task=1, success=True, collisions=1, interventions=2),  # success but collided: not clean
        ep("s", task=2, success=False, interventions=1),  # failed
        ep("s", task=3, success=True, interventions=0),  # not triggered: excluded
    ]
    rr = m.recovery_rate_triggered(eps)
    assert rr.n_episodes == 3 and rr.value == pytest.approx(1 / 3)


def _paired_fixture() -> tuple[list[dict], list[dict]]:
    base = [
        ep("none", task=0, success=False),  # base failed
        ep("none", task=1, success=True, collisions=1),  # base collided
        ep("none", task=2, success=False),  # base failed
        ep("none", task=3, success=True),  # base clean
        ep("none", task=4, success=True),  # base clean
        ep("none", task=5, success=True),  # no intervention episode: unpaired
    ]
    treated = [
        ep("s", task=0, success=True, interventions=1),  # recovered
        ep("s", task=1, success=True, interventions=1),  # recovered (clean now)
        ep("s", task=2, success=False, interventions=1),  # not recovered
        ep("s", task=3, success=True, interventions=1),  # false trigger
        ep("s", task=4, success=True),  # no trigger
        ep("s", task=6, success=True),  # no base episode: unpaired
    ]
    return treated, base


def test_rr_b_false_trigger_and_deltas_hand_computed() -> None:
    treated, base = _paired_fixture()
    rr_b = m.recovery_rate_paired(treated, base)
    assert rr_b.n_episodes == 3 and rr_b.value == pytest.approx(2 / 3)
    ftr = m.false_trigger_rate(treated, base)
    assert ftr.n_episodes == 2 and ftr.value == pytest.approx(0.5)
    pairing = m.pair_episodes(treated, base)
    assert len(pairing.pairs) == 5 and pairing.n_unpaired_treated == 1 and pairing.n_unpaired_base == 1
    # paired units 0..4: treated success [1,1,0,1,1], base [0,1,0,1,1] -> dSR = 1/5
    assert m.delta_success_rate(treated, base).value == pytest.approx(0.2)
    # collisions: treated [0]*5, base [0,1,0,0,0] -> dCR = -1/5
    d_cr = m.delta_collision_rate(treated, base)
    assert d_cr.value == pytest.approx(-0.2) and d_cr.lo <= -0.2 <= d_cr.hi


def test_pairing_refuses_ambiguous_duplicates() -> None:
    with pytest.raises(ValueError, match="twice"):
        m.pair_episodes([ep("s"), ep("s")], [ep()])


def test_pairing_uses_seed_and_repeat() -> None:
    base = [ep(seed=0, success=True), ep(seed=1, success=False)]
    treated = [ep("s", seed=1, success=True), ep("s", seed=0, success=True)]
    assert m.delta_success_rate(treated, base).value == pytest.approx(0.5)
    assert len(m.pair_episodes([ep("s", repeat=1)], [ep(repeat=0)]).pairs) == 0


def test_compare_rows_scopes_and_base_row() -> None:
    treated, base = _paired_fixture()
    other_suite = [ep("none", suite="libero_10", success=True), ep("s", suite="libero_10", success=False)]
    rows = m.compare(treated + base + other_suite, by="suite")
    assert [(r.scope, r.intervention) for r in rows] == [
        ("libero_10", "none"),
        ("libero_10", "s"),
        ("libero_spatial", "none"),
        ("libero_spatial", "s"),
        ("average", "none"),  # two suites: their mean (harness/report/suite_average.py)
        ("average", "s"),
        ("overall", "none"),
        ("overall", "s"),
    ]
    base_row = rows[0]
    assert base_row.is_base and base_row.rr_paired.flag == m.NOT_APPLICABLE
    assert math.isnan(base_row.delta_sr.value)
    l10 = rows[1]
    assert l10.delta_sr.value == -1.0 and l10.n_pairs == 1
    spatial = rows[3]
    assert spatial.rr_paired.value == pytest.approx(2 / 3) and spatial.n_unpaired == 1
    assert any("without a base episode" in note for note in spatial.notes)
    overall = rows[7]
    assert overall.n_episodes == 7 and overall.n_pairs == 6
    assert overall.delta_sr.value == pytest.approx((-1 + 1) / 6)  # libero_10: -1, spatial: +1 over 5


def test_compare_by_task_and_clusters_count_reruns_once() -> None:
    eps = [ep(task=0, init=0, seed=s, success=s % 2 == 0) for s in range(4)]
    eps += [ep(task=1, init=2, seed=s, success=True) for s in range(4)]
    rows = m.compare(eps, by="task")
    assert [r.scope for r in rows] == ["libero_spatial/task0", "libero_spatial/task1", "overall"]
    overall = rows[-1]
    assert overall.n_episodes == 8 and overall.n_clusters == 2
    assert overall.sr.n_clusters == 2 and overall.sr.deff > 1.0


def test_inputs_as_arrow_and_pandas() -> None:
    import pyarrow as pa

    eps = [ep(task=t, success=t < 2) for t in range(5)]
    assert m.success_rate(pa.Table.from_pylist(eps)).value == 0.4
    assert m.success_rate(pa.Table.from_pylist(eps).to_pandas()).value == 0.4


def test_all_collision_free_detects_silent_detector() -> None:
    rows = m.compare([ep(success=True), ep("s", success=False)])
    assert m.all_collision_free(rows)
    rows = m.compare([ep(success=True, collisions=1), ep("s", success=False)])
    assert not m.all_collision_free(rows)
