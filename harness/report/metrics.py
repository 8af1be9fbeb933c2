"""Episode-level metrics with confidence intervals: SR, CR, RR(a), RR(b), false triggers, paired deltas.

All functions take episode records (dicts with the fields of
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
:mod:`mistvla.harness.report.intervals`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mistvla.harness.report.intervals import (
    DEFAULT_CONFIDENCE,
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    Estimate,
    cluster_bootstrap_mean,
    clustered_rate,
    empty_estimate,
    paired_bootstrap_delta,
)
from mistvla.harness.results.identity import EpisodeId

Record = Mapping[str, Any]


def as_records(episodes: Any) -> list[dict[str, Any]]:
    """Episode records as a list of dicts from a list, a pyarrow Table or a pandas DataFrame."""
    if hasattr(episodes, "to_pylist"):
        return episodes.to_pylist()
    if hasattr(episodes, "to_dict") and hasattr(episodes, "columns"):
        return episodes.to_dict("records")
    return [dict(r) for r in episodes]


def has_collision(r: Record) -> bool:
    """At least one collision onset (the CR event)."""
    return int(r["n_collision_onsets"]) >= 1


def clean_success(r: Record) -> bool:
    """Success without any collision onset."""
    return bool(r["success"]) and not has_collision(r)


def triggered(r: Record) -> bool:
    """The intervention became active at least once."""
    return int(r["n_interventions"]) >= 1


def _rate(episodes: Iterable[Record], outcome: Callable[[Record], bool], confidence: float) -> Estimate:
    eps = as_records(episodes)
    return clustered_rate(
        [outcome(r) for r in eps], [EpisodeId.from_record(r).cluster for r in eps], confidence
    )


def success_rate(episodes: Any, confidence: float = DEFAULT_CONFIDENCE) -> Estimate:
    """SR with a (design-effect-adjusted) Wilson interval."""
    return _rate(episodes, lambda r: bool(r["success"]), confidence)


def collision_rate(episodes: Any, confidence: float = DEFAULT_CONFIDENCE) -> Estimate:
    """CR: fraction of episodes with >= 1 collision onset."""
    return _rate(episodes, has_collision, confidence)


def clean_success_rate(episodes: Any, confidence: float = DEFAULT_CONFIDENCE) -> Estimate:
    """Fraction of episodes ending in success without collision."""
    return _rate(episodes, clean_success, confidence)


def intervention_rate(episodes: Any, confidence: float = DEFAULT_CONFIDENCE) -> Estimate:
    """Fraction of episodes in which the intervention triggered."""
    return _rate(episodes, triggered, confidence)


def collisions_per_episode(
    episodes: Any,
    confidence: float = DEFAULT_CONFIDENCE,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> Estimate:
    """Mean number of collision onsets per episode, cluster-bootstrap interval."""
    eps = as_records(episodes)
    return cluster_bootstrap_mean(
        [float(r["n_collision_onsets"]) for r in eps],
        [EpisodeId.from_record(r).cluster for r in eps],
        confidence,
        resamples,
        seed,
    )


def recovery_rate_triggered(episodes: Any, confidence: float = DEFAULT_CONFIDENCE) -> Estimate:
    """RR(a): among episodes where the intervention triggered, the fraction ending in clean success."""
    return _rate([r for r in as_records(episodes) if triggered(r)], clean_success, confidence)


@dataclass(frozen=True)
class Pairing:
    """Intervention episodes matched to base episodes on :attr:`EpisodeId.pairing`."""

    pairs: list[tuple[dict[str, Any], dict[str, Any]]]
    n_unpaired_treated: int
    n_unpaired_base: int


def pair_episodes(
    treated: Any, base: Any, key: Callable[[EpisodeId], tuple] = lambda ident: ident.pairing
) -> Pairing:
    """Match each intervention episode with the base episode of the same (suite, task, init, seed, repeat, env).

    ``key`` gives the pairing unit of an episode's identity (default
    :attr:`EpisodeId.pairing`; :attr:`EpisodeId.robustness_pairing` pairs a
    perturbed episode with its clean twin). Raises ``ValueError`` if a pairing
    key occurs twice on one side (the pairing would be ambiguous, e.g. two runs
    of the same method were concatenated).
    """
    sides = []
    for name, eps in (("intervention", treated), ("base", base)):
        index: dict[tuple, dict[str, Any]] = {}
        for r in as_records(eps):
            k = key(EpisodeId.from_record(r))
            if k in index:
                raise ValueError(f"{name} episodes contain pairing key {k} twice; pairing is ambiguous")
            index[k] = r
        sides.append(index)
    t_idx, b_idx = sides
    common = sorted(set(t_idx) & set(b_idx), key=repr)
    return Pairing([(t_idx[k], b_idx[k]) for k in common], len(t_idx) - len(common), len(b_idx) - len(common))


def _paired_rate(
    pairing: Pairing,
    select: Callable[[Record], bool],
    outcome: Callable[[Record], bool],
    confidence: float,
) -> Estimate:
    chosen = [(t, b) for t, b in pairing.pairs if select(b)]
    return clustered_rate(
        [outcome(t) for t, _ in chosen], [EpisodeId.from_record(t).cluster for t, _ in chosen], confidence
    )


def recovery_rate_paired(treated: Any, base: Any, confidence: float = DEFAULT_CONFIDENCE) -> Estimate:
    """RR(b): among units where the base failed or collided, the fraction the intervention made clean successes."""
    return _paired_rate(
        pair_episodes(treated, base), lambda b: not clean_success(b), clean_success, confidence
    )


def false_trigger_rate(treated: Any, base: Any, confidence: float = DEFAULT_CONFIDENCE) -> Estimate:
    """Among units where the base ended in clean success, the fraction in which the intervention triggered."""
    return _paired_rate(pair_episodes(treated, base), clean_success, triggered, confidence)


def _paired_delta(
    pairing: Pairing, outcome: Callable[[Record], bool], confidence: float, resamples: int, seed: int
) -> Estimate:
    if not pairing.pairs:
        return empty_estimate("paired-cluster-bootstrap")
    t = [float(outcome(t)) for t, _ in pairing.pairs]
    b = [float(outcome(b)) for _, b in pairing.pairs]
    clusters = [EpisodeId.from_record(t).cluster for t, _ in pairing.pairs]
    return paired_bootstrap_delta(t, b, clusters, confidence, resamples, seed)


def delta_success_rate(
    treated: Any,
    base: Any,
    confidence: float = DEFAULT_CONFIDENCE,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> Estimate:
    """ΔSR = SR(intervention) − SR(base) over paired units, cluster-bootstrap percentile interval."""
    return _paired_delta(
        pair_episodes(treated, base), lambda r: bool(r["success"]), confidence, resamples, seed
    )


def delta_collision_rate(
    treated: Any,
    base: Any,
    confidence: float = DEFAULT_CONFIDENCE,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> Estimate:
    """ΔCR = CR(intervention) − CR(base) over paired units, cluster-bootstrap percentile interval."""
    return _paired_delta(pair_episodes(treated, base), has_collision, confidence, resamples, seed)


NOT_APPLICABLE = "not applicable: base policy"


@dataclass(frozen=True)
class MethodMetrics:
    """All metrics of one (policy, intervention) within one scope (overall, a suite or a task)."""

    scope: str
    policy: str
    intervention: str
    is_base: bool
    sr: Estimate
    cr: Estimate
    collisions_per_episode: Estimate
    intervention_rate: Estimate
    rr_triggered: Estimate
    rr_paired: Estimate
    false_trigger_rate: Estimate
    delta_sr: Estimate
    delta_cr: Estimate
    n_episodes: int
    n_clusters: int
    n_pairs: int
    n_unpaired: int
    notes: list[str] = field(default_factory=list)


def method_metrics(
    treated: Any,
    base: Any | None = None,
    scope: str = "overall",
    confidence: float = DEFAULT_CONFIDENCE,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> MethodMetrics:
    """Every metric of one method; the paired ones need ``base`` (None: this *is* the base)."""
    eps = as_records(treated)
    names = {(r["policy"], r["intervention"]) for r in eps}
    if len(names) > 1:
        raise ValueError(f"episodes of more than one (policy, intervention): {sorted(names)}")
    policy, intervention = next(iter(names)) if names else ("", "")
    notes: list[str] = []
    if base is None:
        pairing = Pairing([], 0, 0)
        paired = [empty_estimate(m, NOT_APPLICABLE) for m in ("wilson", "wilson", "paired-cluster-bootstrap")]
        rr_b, ftr, d_sr, d_cr = paired[0], paired[1], paired[2], paired[2]
    else:
        pairing = pair_episodes(eps, base)
        rr_b = _paired_rate(pairing, lambda b: not clean_success(b), clean_success, confidence)
        ftr = _paired_rate(pairing, clean_success, triggered, confidence)
        d_sr = _paired_delta(pairing, lambda r: bool(r["success"]), confidence, resamples, seed)
        d_cr = _paired_delta(pairing, has_collision, confidence, resamples, seed)
        if pairing.n_unpaired_treated:
            notes.append(
                f"{pairing.n_unpaired_treated} episode(s) without a base episode (not in paired metrics)"
            )
    if not eps:
        notes.append("no episodes")
    return MethodMetrics(
        scope=scope,
        policy=policy,
        intervention=intervention,
        is_base=base is None,
        sr=success_rate(eps, confidence),
        cr=collision_rate(eps, confidence),
        collisions_per_episode=collisions_per_episode(eps, confidence, resamples, seed),
        intervention_rate=intervention_rate(eps, confidence),
        rr_triggered=recovery_rate_triggered(eps, confidence),
        rr_paired=rr_b,
        false_trigger_rate=ftr,
        delta_sr=d_sr,
        delta_cr=d_cr,
        n_episodes=len(eps),
        n_clusters=len({EpisodeId.from_record(r).cluster for r in eps}),
        n_pairs=len(pairing.pairs),
        n_unpaired=pairing.n_unpaired_treated,
        notes=notes,
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
        from mistvla.harness.report.suite_average import with_suite_average

        rows = with_suite_average(rows)
    return rows


def definitions_text(confidence: float = DEFAULT_CONFIDENCE, resamples: int = DEFAULT_RESAMPLES) -> str:
    """Plain-text definitions of every column, for table footers."""
    pct = f"{confidence * 100:g}%"
    return (
        "SR: fraction of episodes that succeeded. CR: fraction of episodes with >= 1 collision onset. "
        "Clean success: success without any collision onset. "
        "Int. rate: fraction of episodes in which the intervention triggered. "
        "RR(a): among episodes in which the intervention triggered, the fraction ending in clean success. "
        "RR(b): among (task, init state, seed, repeat) units where the base policy failed or collided, "
        "the fraction the intervention turned into clean success. "
        "FTR: among units where the base policy succeeded cleanly, the fraction in which the intervention triggered. "
        "dSR, dCR: mean paired difference intervention minus base. "
        f"Brackets: {pct} intervals; rates use Wilson score intervals with n replaced by the effective n "
        "(n / design effect, clusters = (task, init state)); deltas use a seeded cluster bootstrap "
        f"({resamples} resamples of (task, init state) clusters, percentile). "
        "n: episodes / clusters. NaN (shown as '-') means no episode qualified."
    )


def all_collision_free(rows: Sequence[MethodMetrics]) -> bool:
    """True when no row saw a single collision: worth checking the collision detector fired at all."""
    return bool(rows) and all(r.cr.ok and r.cr.value == 0 for r in rows)
