"""The metric registry is the one table every output iterates; docs/metrics.md lists every registered metric."""

from __future__ import annotations

from pathlib import Path

import pytest

from mistvla.harness.errors import UnknownNameError
from mistvla.harness.report import table as ct
from mistvla.harness.report.html import plots
from mistvla.harness.report.metric_registry import METRICS, metric, table_metrics
from mistvla.harness.report.metrics import method_metrics

DOC = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"


def _row(m):
    yes = {True: "yes", False: "no", None: "—"}
    column = m.header or "(CSV only)"
    return f"| `{m.name}` | {column} | {yes[m.short is not None]} | {m.aggregation} | {yes[m.higher_is_better]} | {yes[m.paired]} |"


def test_every_registered_metric_is_documented_as_registered() -> None:
    text = DOC.read_text()
    missing = [m.name for m in METRICS if _row(m) not in text]
    assert not missing, f"docs/metrics.md's registry table lacks or misstates: {missing}"


def test_tables_csv_and_plots_follow_the_registry() -> None:
    tests = len(ct.TEST_HEADERS)
    assert ct.HEADERS[2:-1] == (*(m.header for m in table_metrics("table")), *ct.TEST_HEADERS)
    assert ct.COMPACT_HEADERS[2 : -1 - tests // 2] == tuple(m.short for m in table_metrics("terminal"))
    assert ct.CSV_ESTIMATES == tuple(
        m.name for m in METRICS if m.applies is None
    )  # scenario metrics: robustness
    assert [name for name, _ in plots.RATES + plots.DELTAS] == [m.name for m in METRICS if m.plot]


def test_a_row_holds_one_estimate_per_metric_and_the_base_gets_not_applicable_for_paired_ones() -> None:
    eps = [
        {"policy": "p", "intervention": "none", "suite": "s", "task_index": 0, "init_state": i, "seed": 0,
         "success": i % 2 == 0, "n_collision_onsets": i % 3 == 0, "n_interventions": 0}
        for i in range(6)
    ]  # fmt: skip
    base = method_metrics(eps)
    assert set(base.estimates) == {m.name for m in METRICS}
    for m in METRICS:
        assert (base.estimates[m.name].flag == "not applicable: base policy") == m.paired, m.name
    assert base.sr.value == pytest.approx(0.5) and base.cr.value == pytest.approx(2 / 6)


def test_unknown_metric_names_the_known_ones() -> None:
    with pytest.raises(UnknownNameError, match=r"unknown metric 'sucess'.*sr, cr"):
        metric("sucess")
