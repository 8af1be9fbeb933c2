"""Robustness of a policy (and each intervention) to env perturbations: SR, CR and paired deltas vs clean.

Every perturbed episode is paired with its clean twin (same policy,
intervention, task, init state, seed and repeat;
:attr:`~mistvla.harness.results.identity.EpisodeId.robustness_pairing`), so
ΔSR and ΔCR are paired differences with a cluster bootstrap over (task, init
state), as the intervention deltas are (``docs/metrics.md``).

>>> def ep(level, success, init):
...     return {"policy": "p", "intervention": "none", "suite": "s", "task_index": 0, "init_state": init,
...             "seed": 0, "repeat": 0, "perturbation": "camera" if level else "none",
...             "perturbation_level": level, "success": success, "n_collision_onsets": 0}
>>> eps = [ep(0, True, i) for i in range(4)] + [ep(3, i < 1, i) for i in range(4)]
>>> rows = robustness_rows(eps, resamples=200)
>>> [(r.perturbation, r.level, r.sr.value, r.delta_sr.value, r.n_pairs) for r in rows]
[('none', 0, 1.0, nan, 0), ('camera', 3, 0.25, -0.75, 4)]
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from mistvla.harness.report.metric_registry import MetricInput, scenario_metrics
from mistvla.harness.report.metric_row import MethodMetrics
from mistvla.harness.report.metrics import compare
from mistvla.harness.report.outcomes import (
    as_records,
    collision_rate,
    has_collision,
    pair_episodes,
    paired_delta,
    success_rate,
)
from mistvla.harness.results.identity import EpisodeId
from mistvla.harness.stats.intervals import (
    DEFAULT_CONFIDENCE,
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    Estimate,
    empty_estimate,
)

CLEAN = ("none", 0)


@dataclass(frozen=True)
class RobustnessRow:
    """One (policy, intervention) under one env condition (perturbation label, level)."""

    policy: str
    intervention: str
    perturbation: str
    level: int
    sr: Estimate
    cr: Estimate
    delta_sr: Estimate
    delta_cr: Estimate
    n_episodes: int
    n_pairs: int
    notes: list[str] = field(default_factory=list)
    scenario: dict[str, Estimate] = field(default_factory=dict)
    """Scenario metrics (CR_obstacle, RR(d)) of this condition, for those some episode of the run applies to."""

    @property
    def is_clean(self) -> bool:
        return (self.perturbation, self.level) == CLEAN

    @property
    def condition(self) -> str:
        return "clean" if self.is_clean else f"{self.perturbation} L{self.level}"


def condition_of(r: dict[str, Any]) -> tuple[str, int]:
    return EpisodeId.from_record(r).condition


def is_sweep(episodes: Any) -> bool:
    """True when any episode ran under a perturbation."""
    return any(condition_of(r) != CLEAN for r in as_records(episodes))


def clean_episodes(episodes: Any) -> list[dict[str, Any]]:
    return [r for r in as_records(episodes) if condition_of(r) == CLEAN]


def _conditions(eps: list[dict[str, Any]]) -> list[tuple[str, int]]:
    """Conditions in the order perturbations first appear (the plan's order), levels ascending, clean first."""
    labels = list(dict.fromkeys(condition_of(r)[0] for r in eps if condition_of(r) != CLEAN))
    found = {condition_of(r) for r in eps}
    return [CLEAN, *sorted((c for c in found if c != CLEAN), key=lambda c: (labels.index(c[0]), c[1]))]


def robustness_rows(
    episodes: Any,
    confidence: float = DEFAULT_CONFIDENCE,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> list[RobustnessRow]:
    """One row per (policy, intervention) x condition: SR, CR, and ΔSR, ΔCR paired with the clean twins."""
    eps = as_records(episodes)
    groups: dict[tuple[str, str, tuple[str, int]], list[dict[str, Any]]] = defaultdict(list)
    for r in eps:
        groups[(r["policy"], r["intervention"], condition_of(r))].append(r)
    methods = sorted({(p, i) for p, i, _ in groups}, key=lambda m: (m[0], m[1] != "none", m[1]))
    scenario = scenario_metrics(eps)
    rows = []
    for policy, intervention in methods:
        clean = groups.get((policy, intervention, CLEAN), [])
        for cond in _conditions(eps):
            mine = groups.get((policy, intervention, cond))
            if not mine:
                continue
            notes: list[str] = []
            if cond == CLEAN:
                d_sr = d_cr = empty_estimate("paired-cluster-bootstrap", "not applicable: clean reference")
                n_pairs = 0
            else:
                pairing = pair_episodes(mine, clean, key=lambda ident: ident.robustness_pairing)
                d_sr = paired_delta(pairing, lambda r: bool(r["success"]), confidence, resamples, seed)
                d_cr = paired_delta(pairing, has_collision, confidence, resamples, seed)
                n_pairs = len(pairing.pairs)
                if pairing.n_unpaired_treated:
                    notes.append(f"{pairing.n_unpaired_treated} episode(s) without a clean twin")
            rows.append(
                RobustnessRow(
                    policy=policy,
                    intervention=intervention,
                    perturbation=cond[0],
                    level=cond[1],
                    sr=success_rate(mine, confidence),
                    cr=collision_rate(mine, confidence),
                    delta_sr=d_sr,
                    delta_cr=d_cr,
                    n_episodes=len(mine),
                    n_pairs=n_pairs,
                    notes=notes,
                    scenario={
                        m.name: m.compute(MetricInput(mine, None, confidence, resamples, seed))
                        for m in scenario
                    },
                )
            )
    return rows


def interventions_by_condition(
    episodes: Any,
    confidence: float = DEFAULT_CONFIDENCE,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> list[MethodMetrics]:
    """Each intervention against the base policy within each env condition (the scope is the condition).

    This is the paper plan's Table 3: how much each intervention helps under each perturbation.
    """
    eps = as_records(episodes)
    rows: list[MethodMetrics] = []
    for cond in _conditions(eps):
        mine = [r for r in eps if condition_of(r) == cond]
        if len({r["intervention"] for r in mine}) < 2:
            continue
        label = "clean" if cond == CLEAN else f"{cond[0]} L{cond[1]}"
        for row in compare(mine, by=None, confidence=confidence, resamples=resamples, seed=seed):
            rows.append(dataclasses.replace(row, scope=label))
    return rows
