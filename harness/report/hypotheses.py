"""The paired units of a pre-registered hypothesis: which episodes it compares, in which order.

A hypothesis (:class:`~mistvla.harness.stats.prereg.Hypothesis`) names a row
(an intervention label), a metric (``sr``, ``cr`` or ``cr_obstacle``) and optionally an env
condition (``clean``, ``actuation_noise L4``). Its units are the pairing units
(:attr:`EpisodeId.pairing`) where both the row and the base (``none``) have an
episode in that condition; each gives ``(row outcome, base outcome)`` for the
metric's per-episode outcome (the one the table's McNemar test uses).

The **monitor order** of units is fixed before anything runs and never depends
on outcomes: seed, repeat, init state first, then suite, task and condition, so
that any prefix covers the tasks evenly (the sequential rule feeds units in this
order, ``docs/statistics.md``).

>>> from mistvla.harness.stats.prereg import Hypothesis
>>> eps = [{"policy": "p", "intervention": arm, "suite": "s", "task_index": t, "init_state": i, "seed": 0,
...         "repeat": 0, "success": ok, "n_collision_onsets": 0}
...        for t in (0, 1) for i in (0, 1) for arm, ok in (("none", False), ("mist", t == 0))]
>>> [pair for _, pair in unit_outcomes(eps, Hypothesis("mist", "sr", "greater"))]
[(True, False), (False, False), (True, False), (False, False)]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from mistvla.harness.report.metric_registry import metric
from mistvla.harness.report.outcomes import as_records
from mistvla.harness.results.identity import EpisodeId
from mistvla.harness.stats.prereg import Hypothesis

BASE = "none"


def condition_name(ident: EpisodeId) -> str:
    """``clean`` or ``<perturbation> L<level>``, as in the report's scopes and ``Hypothesis.condition``."""
    perturbation, level = ident.condition
    return "clean" if ident.is_clean else f"{perturbation} L{level}"


def monitor_order(ident: EpisodeId) -> tuple[Any, ...]:
    """Sort key of a pairing unit in the monitor order (seed, repeat, init state, suite, task, condition)."""
    return (ident.seed, ident.repeat, ident.init_state, ident.suite, ident.task_index, *ident.condition)


def applies(hypothesis: Hypothesis, ident: EpisodeId) -> bool:
    """Does ``hypothesis`` test the unit of ``ident`` (its condition, or every unit when it names none)?"""
    return hypothesis.condition is None or hypothesis.condition == condition_name(ident)


def unit_outcomes(episodes: Any, hypothesis: Hypothesis) -> list[tuple[tuple[Any, ...], tuple[bool, bool]]]:
    """``[(pairing key, (row outcome, base outcome))]`` of every complete unit, in the monitor order."""
    outcome = metric(hypothesis.metric).paired_test
    assert outcome is not None, hypothesis.metric
    sides: dict[str, dict[tuple[Any, ...], tuple[EpisodeId, Mapping[str, Any]]]] = {
        hypothesis.row: {},
        BASE: {},
    }
    for r in as_records(episodes):
        if r["intervention"] in sides:
            ident = EpisodeId.from_record(r)
            if applies(hypothesis, ident):
                sides[r["intervention"]][ident.pairing] = (ident, r)
    treated, base = sides[hypothesis.row], sides[BASE]
    common = [k for k in set(treated) & set(base) if _scenario_applies(hypothesis, treated[k][1], base[k][1])]
    common.sort(key=lambda k: monitor_order(treated[k][0]))
    return [(k, (outcome(treated[k][1]), outcome(base[k][1]))) for k in common]


def _scenario_applies(hypothesis: Hypothesis, row: Mapping[str, Any], base: Mapping[str, Any]) -> bool:
    """A scenario metric's unit counts only when both episodes are in its population (e.g. had obstacles)."""
    applies_to = metric(hypothesis.metric).applies
    return applies_to is None or (applies_to(dict(row)) and applies_to(dict(base)))


def by_unit(episodes: Iterable[Mapping[str, Any]]) -> dict[tuple[Any, ...], dict[str, Mapping[str, Any]]]:
    """``{pairing key: {intervention label: record}}``."""
    out: dict[tuple[Any, ...], dict[str, Mapping[str, Any]]] = {}
    for r in episodes:
        out.setdefault(EpisodeId.from_record(r).pairing, {})[r["intervention"]] = r
    return out


def unit_pair(
    unit: Mapping[str, Mapping[str, Any]], ident: EpisodeId, hypothesis: Hypothesis
) -> tuple[bool, bool] | None:
    """One unit's ``(row outcome, base outcome)`` for ``hypothesis``; None when it does not apply or an arm is missing."""
    if not applies(hypothesis, ident) or hypothesis.row not in unit or BASE not in unit:
        return None
    if not _scenario_applies(hypothesis, unit[hypothesis.row], unit[BASE]):
        return None
    outcome = metric(hypothesis.metric).paired_test
    assert outcome is not None, hypothesis.metric
    return outcome(unit[hypothesis.row]), outcome(unit[BASE])


__all__ = ["BASE", "applies", "by_unit", "condition_name", "monitor_order", "unit_outcomes", "unit_pair"]
