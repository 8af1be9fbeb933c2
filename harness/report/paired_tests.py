"""The paired tests of a comparison table: exact McNemar per row and metric, Holm-Bonferroni over the table.

Each non-base row carries, per tested metric (SR and CR, ``paired_test`` in
:data:`~mistvla.harness.report.metric_registry.METRICS`), the two-sided exact
McNemar test of its paired units against the base
(:attr:`~mistvla.harness.report.metric_row.MethodMetrics.tests`). The family
for the multiplicity adjustment is **one table**: every such test of the
table's rows, Holm-adjusted together. An ``overall`` row that repeats the only
other scope's episodes (one suite) is the same test as its twin, not a second
one: it gets its twin's adjusted p and does not enlarge the family, so the
terminal table (which drops it) and ``comparison.md`` agree.

>>> from mistvla.harness.report.metric_row import MethodMetrics
>>> from mistvla.harness.stats.mcnemar import mcnemar_from_counts
>>> rows = [MethodMetrics("s", "p", "none", True, {}, 10, 10, 0, 0),
...         MethodMetrics("s", "p", "a", False, {}, 10, 10, 10, 0, tests={"sr": mcnemar_from_counts(6, 0, 10)}),
...         MethodMetrics("s", "p", "b", False, {}, 10, 10, 10, 0, tests={"sr": mcnemar_from_counts(3, 1, 10)})]
>>> [{k: round(t.p_holm, 4) for k, t in row.items()} for row in table_tests(rows)]
[{}, {'sr': 0.0625}, {'sr': 0.625}]
>>> test_cell(table_tests(rows)[1]["sr"])
'0.031 (0.062)'
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from mistvla.harness.report.metric_row import MethodMetrics
from mistvla.harness.stats.mcnemar import McNemarResult
from mistvla.harness.stats.multiplicity import holm_adjust


@dataclass(frozen=True)
class TableTest:
    """One row's test on one metric, with its Holm-adjusted p within the table's family."""

    result: McNemarResult
    p_holm: float


def _twins(rows: Sequence[MethodMetrics]) -> dict[int, int]:
    """Index of each ``overall`` row that repeats the only other scope -> index of that scope's row."""
    scopes = {r.scope for r in rows} - {"overall"}
    if len(scopes) != 1:
        return {}
    (only,) = scopes
    index = {(r.scope, r.policy, r.intervention): i for i, r in enumerate(rows)}
    out = {}
    for i, r in enumerate(rows):
        twin = index.get((only, r.policy, r.intervention))
        if r.scope == "overall" and twin is not None and rows[twin].n_episodes == r.n_episodes:
            out[i] = twin
    return out


def table_tests(rows: Sequence[MethodMetrics]) -> list[dict[str, TableTest]]:
    """Per row, its tests with Holm-adjusted p over the whole table (the family); ``{}`` for untested rows."""
    twins = _twins(rows)
    family = [(i, name) for i, r in enumerate(rows) if i not in twins for name, t in r.tests.items()
              if not math.isnan(t.p_value)]  # fmt: skip
    adjusted = dict(zip(family, holm_adjust([rows[i].tests[n].p_value for i, n in family]), strict=True))
    out: list[dict[str, TableTest]] = []
    for i, r in enumerate(rows):
        source = twins.get(i, i)
        out.append(
            {name: TableTest(t, adjusted.get((source, name), math.nan)) for name, t in r.tests.items()}
        )
    return out


def family_size(rows: Sequence[MethodMetrics]) -> int:
    """How many tests the table's Holm adjustment is over."""
    twins = _twins(rows)
    return sum(
        not math.isnan(t.p_value) for i, r in enumerate(rows) if i not in twins for t in r.tests.values()
    )


def _p(x: float) -> str:
    return "-" if math.isnan(x) else ("<0.001" if x < 0.001 else f"{x:.3f}")


def test_cell(t: TableTest | None) -> str:
    """``"p (p_Holm)"``, e.g. ``"0.031 (0.062)"``; ``"-"`` for an untested row."""
    return "-" if t is None else f"{_p(t.result.p_value)} ({_p(t.p_holm)})"


def counts_cell(t: TableTest | None) -> str:
    """``"b/c"``: discordant units the row won / lost against the base."""
    return "-" if t is None else f"{t.result.b}/{t.result.c}"


def terminal_cell(t: TableTest | None) -> str:
    """The terminal's compact cell: Holm-adjusted p and the discordant counts, ``"0.062 6/0"``."""
    return "-" if t is None else f"{_p(t.p_holm)} {t.result.b}/{t.result.c}"


def tests_footer(rows: Sequence[MethodMetrics], labels: dict[str, str]) -> str:
    """The table note on the tests: what they are and which family the adjustment is over."""
    k = family_size(rows)
    names = ", ".join(labels.values())
    return (
        f"Paired tests ({names}): exact two-sided McNemar test on the paired units against the base "
        "(b/c: units where only the intervention / only the base had the outcome); "
        f"p (p Holm): raw and Holm-Bonferroni-adjusted p, family = the {k} test(s) of this table."
    )
