"""Confidence intervals for rates and means from clustered episode data.

Episodes that rerun the same (task, init state) are not independent samples:
they share a start configuration, so their outcomes are correlated. Everything
here therefore takes a *cluster id* per observation and states both the number
of observations and the number of clusters.

Choices (documented in ``docs/metrics.md``):

* Rates use the **Wilson score interval**. With clusters of more than one
  episode, ``n`` is replaced by the **effective n** ``n / deff`` where the
  design effect ``deff = 1 + (m_w - 1) * icc`` uses the one-way ANOVA
  intra-cluster correlation (clipped to ``[0, 1]``) and the size-weighted mean
  cluster size ``m_w = sum(m_c^2) / sum(m_c)``. ``deff`` is never below 1, so
  clustering can only widen an interval. When the ICC cannot be estimated (all
  outcomes equal, or every cluster a singleton) ``deff = 1``.
* Means (e.g. collisions per episode) and paired differences use a seeded
  **cluster bootstrap**: whole clusters are resampled with replacement and the
  percentile interval of the statistic is reported.

Empty input gives NaN estimates, never a crash or a fake zero.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import norm

DEFAULT_CONFIDENCE = 0.95
DEFAULT_RESAMPLES = 2000
DEFAULT_SEED = 0


@dataclass(frozen=True)
class Estimate:
    """A point estimate with a confidence interval and the sample it came from.

    ``flag`` is ``None`` when the estimate is valid, otherwise a short reason
    (``"n=0"``: nothing to estimate from; the value and bounds are NaN).
    ``n_effective`` is ``n_episodes / deff`` for Wilson intervals and
    ``n_episodes`` otherwise.
    """

    value: float
    lo: float
    hi: float
    n_episodes: int
    n_clusters: int
    method: str
    numerator: float | None = None
    n_effective: float = math.nan
    deff: float = math.nan
    flag: str | None = None

    @property
    def ok(self) -> bool:
        """True when the estimate is based on at least one observation."""
        return self.flag is None


def empty_estimate(method: str, reason: str = "n=0") -> Estimate:
    """The estimate of an empty sample: NaN value and bounds, flagged."""
    return Estimate(math.nan, math.nan, math.nan, 0, 0, method, flag=reason)


def wilson_interval(k: float, n: float, confidence: float = DEFAULT_CONFIDENCE) -> tuple[float, float]:
    """Wilson score interval for ``k`` successes out of ``n`` (``n`` may be fractional).

    Returns ``(nan, nan)`` when ``n <= 0``. Rates of exactly 0 or 1 still get a
    proper, non-degenerate interval.

    >>> lo, hi = wilson_interval(0, 10)
    >>> (round(lo, 4), round(hi, 4))
    (0.0, 0.2775)
    >>> [round(x, 4) for x in wilson_interval(7, 10)]
    [0.3968, 0.8922]
    """
    if not n > 0:
        return (math.nan, math.nan)
    if k < 0 or k > n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    z = float(norm.ppf(0.5 + confidence / 2.0))
    p = k / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2.0 * n)) / denom
    half = z * math.sqrt(p * (1.0 - p) / n + z * z / (4.0 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def _cluster_index(clusters: Sequence[object]) -> tuple[np.ndarray, int]:
    """Map arbitrary hashable cluster ids to ``0..C-1``."""
    ids: dict[object, int] = {}
    idx = np.fromiter((ids.setdefault(c, len(ids)) for c in clusters), dtype=np.int64, count=len(clusters))
    return idx, len(ids)


def design_effect(values: Sequence[float], clusters: Sequence[object]) -> tuple[float, float]:
    """Design effect and ICC of ``values`` grouped by ``clusters`` (one-way ANOVA estimator).

    Returns ``(deff, icc)``; ``deff = 1 + (m_w - 1) * icc`` with ``icc`` clipped
    to ``[0, 1]``. ``(1.0, nan)`` when the ICC cannot be estimated.

    >>> design_effect([1, 1, 0, 0], ["a", "a", "b", "b"])  # perfectly clustered
    (2.0, 1.0)
    >>> design_effect([1, 0, 1, 0], ["a", "a", "b", "b"])  # no between-cluster variance
    (1.0, 0.0)
    """
    y = np.asarray(values, dtype=float)
    if y.size != len(clusters):
        raise ValueError("values and clusters differ in length")
    idx, c = _cluster_index(clusters)
    n = y.size
    if c < 2 or n <= c:
        return (1.0, math.nan)
    sizes = np.bincount(idx, minlength=c).astype(float)
    sums = np.bincount(idx, weights=y, minlength=c)
    means = sums / sizes
    grand = y.mean()
    ssb = float(np.sum(sizes * (means - grand) ** 2))
    ssw = float(np.sum((y - means[idx]) ** 2))
    msb = ssb / (c - 1)
    msw = ssw / (n - c)
    m0 = (n - np.sum(sizes**2) / n) / (c - 1)
    denom = msb + (m0 - 1.0) * msw
    if denom <= 0:
        return (1.0, math.nan)
    icc = min(1.0, max(0.0, (msb - msw) / denom))
    m_w = float(np.sum(sizes**2) / n)
    return (1.0 + (m_w - 1.0) * icc, icc)


def clustered_rate(
    outcomes: Sequence[bool],
    clusters: Sequence[object],
    confidence: float = DEFAULT_CONFIDENCE,
) -> Estimate:
    """Rate of ``True`` in ``outcomes`` with a design-effect-adjusted Wilson interval.

    >>> e = clustered_rate([True, False, True, True], ["a", "b", "c", "d"])
    >>> (e.value, e.n_episodes, e.n_clusters, e.deff, e.method)
    (0.75, 4, 4, 1.0, 'wilson')
    >>> clustered_rate([], []).flag
    'n=0'
    """
    y = np.asarray(outcomes, dtype=bool)
    if y.size == 0:
        return empty_estimate("wilson")
    n = int(y.size)
    k = int(y.sum())
    _, c = _cluster_index(clusters)
    deff, _ = design_effect(y.astype(float), clusters)
    n_eff = n / deff
    lo, hi = wilson_interval(k / deff, n_eff, confidence)
    method = "wilson" if c == n else "wilson-deff"
    return Estimate(k / n, lo, hi, n, c, method, numerator=float(k), n_effective=n_eff, deff=deff)


def _bootstrap_cluster_draws(n_clusters: int, resamples: int, seed: int) -> np.ndarray:
    """Counts ``(resamples, n_clusters)``: how often each cluster is drawn in each resample."""
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n_clusters, size=(resamples, n_clusters))
    counts = np.zeros((resamples, n_clusters), dtype=np.float64)
    rows = np.repeat(np.arange(resamples), n_clusters)
    np.add.at(counts, (rows, draws.ravel()), 1.0)
    return counts


def cluster_bootstrap_mean(
    values: Sequence[float],
    clusters: Sequence[object],
    confidence: float = DEFAULT_CONFIDENCE,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    method: str = "cluster-bootstrap",
) -> Estimate:
    """Mean of ``values`` with a percentile interval from resampling whole clusters.

    Each resample draws ``C`` clusters with replacement and takes the mean over
    all observations in the drawn clusters (a ratio estimator, so unequal
    cluster sizes are handled). Seeded: the same input gives the same interval.

    >>> e = cluster_bootstrap_mean([1.0, 2.0, 3.0, 4.0], ["a", "a", "b", "b"], resamples=200)
    >>> (e.value, e.n_episodes, e.n_clusters)
    (2.5, 4, 2)
    >>> (e.lo, e.hi)  # only two clusters: the bootstrap can only give 1.5, 2.5 or 3.5
    (1.5, 3.5)
    """
    y = np.asarray(values, dtype=float)
    if y.size == 0:
        return empty_estimate(method)
    idx, c = _cluster_index(clusters)
    sums = np.bincount(idx, weights=y, minlength=c)
    sizes = np.bincount(idx, minlength=c).astype(float)
    counts = _bootstrap_cluster_draws(c, resamples, seed)
    stats = (counts @ sums) / (counts @ sizes)
    alpha = 1.0 - confidence
    lo, hi = np.quantile(stats, [alpha / 2.0, 1.0 - alpha / 2.0])
    return Estimate(float(y.mean()), float(lo), float(hi), int(y.size), c, method, n_effective=float(y.size))


def paired_bootstrap_delta(
    treated: Sequence[float],
    base: Sequence[float],
    clusters: Sequence[object],
    confidence: float = DEFAULT_CONFIDENCE,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> Estimate:
    """Mean paired difference ``treated - base`` with a cluster bootstrap percentile interval.

    ``treated[i]`` and ``base[i]`` are outcomes of the same pairing unit (same
    task, init state, seed, repeat); ``clusters[i]`` is the unit's cluster (task,
    init state). Whole clusters of pairs are resampled, which keeps the pairing
    and the within-cluster correlation.

    >>> e = paired_bootstrap_delta([1, 1, 1, 0], [0, 1, 0, 0], ["a", "b", "c", "d"], resamples=500)
    >>> (e.value, e.n_episodes, e.n_clusters, e.method)
    (0.5, 4, 4, 'paired-cluster-bootstrap')
    """
    t = np.asarray(treated, dtype=float)
    b = np.asarray(base, dtype=float)
    if t.shape != b.shape:
        raise ValueError("treated and base differ in length")
    return cluster_bootstrap_mean(t - b, clusters, confidence, resamples, seed, "paired-cluster-bootstrap")
