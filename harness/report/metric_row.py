"""One row of a comparison table: every registered metric of one (policy, intervention) in one scope.

>>> from mistvla.harness.stats.intervals import clustered_rate
>>> row = MethodMetrics("overall", "p", "none", True, {"sr": clustered_rate([True, False], ["a", "b"])}, 2, 2, 0, 0)
>>> row.sr.value, row.estimates["sr"] is row.sr
(0.5, True)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from mistvla.harness.stats.intervals import Estimate
from mistvla.harness.stats.mcnemar import McNemarResult

NOT_APPLICABLE = "not applicable: base policy"


@dataclass(frozen=True)
class MethodMetrics:
    """All metrics of one (policy, intervention) within one scope (overall, a suite, a task or a condition).

    ``estimates`` holds one :class:`~mistvla.harness.stats.intervals.Estimate`
    per registered metric (:data:`~mistvla.harness.report.metric_registry.METRICS`),
    also readable as an attribute (``row.sr``, ``row.delta_cr``).
    """

    scope: str
    policy: str
    intervention: str
    is_base: bool
    estimates: Mapping[str, Estimate]
    n_episodes: int
    n_clusters: int
    n_pairs: int
    n_unpaired: int
    notes: list[str] = field(default_factory=list)
    tests: Mapping[str, McNemarResult] = field(default_factory=dict)
    """Two-sided exact McNemar test against the base per tested metric (empty for the base itself)."""

    def __getattr__(self, name: str) -> Estimate:
        estimates = self.__dict__.get("estimates")
        if estimates is not None and name in estimates:
            return estimates[name]
        raise AttributeError(f"{type(self).__name__} has no attribute or metric {name!r}")
