"""Episode-level metrics with confidence intervals: SR, CR, RR(a), RR(b), false triggers, paired deltas.

The metrics themselves are registered in
:data:`~mistvla.harness.report.metric_registry.METRICS` (estimators in
:mod:`~mistvla.harness.report.outcomes`); this module builds the rows of a
comparison table from them. All functions take episode records (dicts with the fields of
:class:`~mistvla.harness.results.schema.EpisodeRecord`, a pyarrow Table or a
pandas DataFrame). Definitions (also in ``docs/metrics.md`` and
:func:`definitions_text`):

* **SR** success rate: fraction of episodes with ``success``.
* **CR** collision rate: fraction of episodes with at least one collision onset.
* **clean success**: ``success`` and no collision onset.
* **intervention rate**: fraction of episodes in which the intervention triggered
  (``n_interventions >= 1``).
* **RR(a)**: among episodes in which the intervention triggered, the fraction that
  ended in clean success.
* **RR(b)** (paired): among pairing units (suite, task, init state, seed, repeat)
  where the base policy failed or collided, the fraction in which the intervention
  ended in clean success.
* **false-trigger rate** (paired): among pairing units where the base policy ended
  in clean success, the fraction in which the intervention triggered.
* **ΔSR, ΔCR**: mean paired difference intervention − base over pairing units.

Rates get Wilson intervals with a design-effect-adjusted n; means and deltas a
seeded cluster bootstrap; clusters are (suite, task, init state). See
:mod:`mistvla.harness.stats.intervals`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from mistvla.harness.report.metric_registry import METRICS, MetricInput, definitions_text, tested_metrics
from mistvla.harness.report.metric_row import NOT_APPLICABLE, MethodMetrics
from mistvla.harness.report.outcomes import (
    Pairing,
    Record,
    as_records,
    clean_success,
    clean_success_rate,
    collision_rate,
    collisions_per_episode,
    delta_collision_rate,
    delta_success_rate,
    false_trigger_rate,
    has_collision,
    intervention_rate,
    pair_episodes,
    recovery_rate_paired,
    recovery_rate_triggered,
    success_rate,
    triggered,
)
from mistvla.harness.report.suite_average import with_suite_average
from mistvla.harness.results.identity import EpisodeId
from mistvla.harness.stats.intervals import (
    DEFAULT_CONFIDENCE,
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    empty_estimate,
)
from mistvla.harness.stats.mcnemar import mcnemar_exact

__all__ = [  # the estimators are re-exported: ``metrics`` is the one module users import
    "NOT_APPLICABLE",
    "MethodMetrics",
    "Pairing",
    "Record",
    "all_collision_free",
    "as_records",
    "clean_success",
    "clean_success_rate",
    "collision_rate",
    "collisions_per_episode",
    "compare",
    "definitions_text",
    "delta_collision_rate",
    "delta_success_rate",
    "false_trigger_rate",
    "has_collision",
    "intervention_rate",
    "method_metrics",
    "pair_episodes",
    "recovery_rate_paired",
    "recovery_rate_triggered",
    "success_rate",
    "triggered",
]


def method_metrics(
    treated: Any,
    base: Any | None = None,
    scope: str = "overall",
    confidence: float = DEFAULT_CONFIDENCE,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> MethodMetrics:
    """Every registered metric of one method; the paired ones need ``base`` (None: this *is* the base)."""
    eps = as_records(treated)
    names = {(r["policy"], r["intervention"]) for r in eps}
    if len(names) > 1:
        raise ValueError(f"episodes of more than one (policy, intervention): {sorted(names)}")
    policy, intervention = next(iter(names)) if names else ("", "")
    notes: list[str] = []
    pairing = None if base is None else pair_episodes(eps, base)
    if pairing is not None and pairing.n_unpaired_treated:
        notes.append(
            f"{pairing.n_unpaired_treated} episode(s) without a base episode (not in paired metrics)"
        )
    if not eps:
        notes.append("no episodes")
    given = MetricInput(eps, pairing, confidence, resamples, seed)
    estimates = {
        m.name: empty_estimate(m.aggregation, NOT_APPLICABLE)
        if m.paired and pairing is None
        else m.compute(given)
        for m in METRICS
    }
    tests = {}
    if pairing is not None and pairing.pairs:
        for m in tested_metrics():
            assert m.paired_test is not None
            tests[m.name] = mcnemar_exact(
                [m.paired_test(t) for t, _ in pairing.pairs], [m.paired_test(b) for _, b in pairing.pairs]
            )
    return MethodMetrics(
        scope=scope,
        policy=policy,
        intervention=intervention,
        is_base=base is None,
        estimates=estimates,
        n_episodes=len(eps),
        n_clusters=len({EpisodeId.from_record(r).cluster for r in eps}),
        n_pairs=0 if pairing is None else len(pairing.pairs),
        n_unpaired=0 if pairing is None else pairing.n_unpaired_treated,
        notes=notes,
        tests=tests,
    )


def _scope_of(r: Record, by: str | None) -> str:
    if by is None:
        return "overall"
    if by == "suite":
        return str(r["suite"])
    if by == "task":
        return f"{r['suite']}/{r['task']}"
    raise ValueError(f"by must be None, 'suite' or 'task', got {by!r}")


def compare(
    episodes: Any,
    base_intervention: str = "none",
    by: str | None = "suite",
    confidence: float = DEFAULT_CONFIDENCE,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> list[MethodMetrics]:
    """Metrics of every (policy, intervention) per scope (``by`` suite or task) and overall.

    Each intervention is paired with the episodes of the same policy whose
    intervention is ``base_intervention``. Rows come ordered by scope
    (``overall`` last), then policy, with the base first. ``by="suite"`` over
    several suites adds ``average`` rows (the mean over suites,
    :mod:`~mistvla.harness.report.suite_average`) before ``overall``.
    (Per env condition: :func:`~mistvla.harness.report.robustness.interventions_by_condition`.)
    """
    eps = as_records(episodes)
    scopes: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in eps:
        if by is not None:
            scopes[_scope_of(r, by)].append(r)
        scopes["overall"].append(r)
    rows: list[MethodMetrics] = []
    for scope in [*sorted(s for s in scopes if s != "overall"), "overall"]:
        groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        for r in scopes[scope]:
            groups[(r["policy"], r["intervention"])].append(r)
        order = sorted(groups, key=lambda k: (k[0], k[1] != base_intervention, k[1]))
        for policy, intervention in order:
            is_base = intervention == base_intervention
            base = None if is_base else groups.get((policy, base_intervention), [])
            rows.append(
                method_metrics(groups[(policy, intervention)], base, scope, confidence, resamples, seed)
            )
    if by == "suite":  # several suites: the published protocols' mean over suites, before overall
        rows = with_suite_average(rows)
    return rows


def all_collision_free(rows: Sequence[MethodMetrics]) -> bool:
    """True when no row saw a single collision: worth checking the collision detector fired at all."""
    return bool(rows) and all(r.cr.ok and r.cr.value == 0 for r in rows)
