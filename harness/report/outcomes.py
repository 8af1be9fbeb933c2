"""Per-episode outcomes and the rate, mean and paired-delta estimators built on them.

The predicates (:func:`has_collision`, :func:`clean_success`, :func:`triggered`)
decide what each episode counts as; the estimators turn a list of episode
records (dicts, a pyarrow Table or a pandas DataFrame) into an
:class:`~mistvla.harness.stats.intervals.Estimate` with its interval. The
metrics of the comparison table are registered, one line each, in
:data:`mistvla.harness.report.metric_registry.METRICS`; definitions are in
``docs/metrics.md``.

>>> eps = [{"success": True, "n_collision_onsets": 0, "n_interventions": 1, "suite": "s", "policy": "p",
...         "intervention": "none", "task_index": 0, "init_state": i, "seed": 0} for i in range(3)]
>>> round(success_rate(eps).value, 3), collision_rate(eps).value
(1.0, 0.0)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from mistvla.harness.results.identity import EpisodeId
from mistvla.harness.stats.intervals import (
    DEFAULT_CONFIDENCE,
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    Estimate,
    cluster_bootstrap_mean,
    clustered_rate,
    empty_estimate,
    paired_bootstrap_delta,
)

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


def has_obstacles(r: Record) -> bool:
    """The episode had at least one inserted obstacle on the table (the CR_obstacle population)."""
    return r.get("obstacle_collided") is not None


def obstacle_collision(r: Record) -> bool:
    """The robot or its held object touched an inserted obstacle, or one moved > 1 mm (the CR_obstacle event)."""
    return bool(r.get("obstacle_collided"))


def disturbed(r: Record) -> bool:
    """A mid-episode disturbance fired (the RR(d) population)."""
    return r.get("disturbance_step") is not None


def rate_of(episodes: Iterable[Record], outcome: Callable[[Record], bool], confidence: float) -> Estimate:
    eps = as_records(episodes)
    return clustered_rate(
        [outcome(r) for r in eps], [EpisodeId.from_record(r).cluster for r in eps], confidence
    )


def success_rate(episodes: Any, confidence: float = DEFAULT_CONFIDENCE) -> Estimate:
    """SR with a (design-effect-adjusted) Wilson interval."""
    return rate_of(episodes, lambda r: bool(r["success"]), confidence)


def collision_rate(episodes: Any, confidence: float = DEFAULT_CONFIDENCE) -> Estimate:
    """CR: fraction of episodes with >= 1 collision onset."""
    return rate_of(episodes, has_collision, confidence)


def clean_success_rate(episodes: Any, confidence: float = DEFAULT_CONFIDENCE) -> Estimate:
    """Fraction of episodes ending in success without collision."""
    return rate_of(episodes, clean_success, confidence)


def intervention_rate(episodes: Any, confidence: float = DEFAULT_CONFIDENCE) -> Estimate:
    """Fraction of episodes in which the intervention triggered."""
    return rate_of(episodes, triggered, confidence)


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
    return rate_of([r for r in as_records(episodes) if triggered(r)], clean_success, confidence)


def obstacle_collision_rate(episodes: Any, confidence: float = DEFAULT_CONFIDENCE) -> Estimate:
    """CR_obstacle: among episodes with obstacles, the fraction that collided with one."""
    return rate_of([r for r in as_records(episodes) if has_obstacles(r)], obstacle_collision, confidence)


def recovery_rate_disturbed(episodes: Any, confidence: float = DEFAULT_CONFIDENCE) -> Estimate:
    """RR(d): among episodes in which a disturbance fired, the fraction ending in clean success after it."""
    return rate_of([r for r in as_records(episodes) if disturbed(r)], clean_success, confidence)


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


def paired_rate(
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
    return paired_rate(
        pair_episodes(treated, base), lambda b: not clean_success(b), clean_success, confidence
    )


def false_trigger_rate(treated: Any, base: Any, confidence: float = DEFAULT_CONFIDENCE) -> Estimate:
    """Among units where the base ended in clean success, the fraction in which the intervention triggered."""
    return paired_rate(pair_episodes(treated, base), clean_success, triggered, confidence)


def paired_delta(
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
    return paired_delta(
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
    return paired_delta(pair_episodes(treated, base), has_collision, confidence, resamples, seed)
