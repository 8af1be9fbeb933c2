"""The table's paired tests: exact McNemar per row and metric vs statsmodels, Holm over the table's family."""

from __future__ import annotations

import csv
import io
import math
import sys
from pathlib import Path

import numpy as np
import pytest
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests

from mistvla.harness.report import table as ct
from mistvla.harness.report.metrics import compare, has_collision, pair_episodes
from mistvla.harness.report.paired_tests import family_size, table_tests

sys.path.insert(0, str(Path(__file__).parent))
from test_golden_tables import golden_episodes

OUTCOME = {"sr": lambda r: bool(r["success"]), "cr": has_collision}


@pytest.fixture(scope="module")
def clean_rows():
    eps = [e for e in golden_episodes() if e["perturbation"] == "none"]
    return eps, compare(eps, by="suite", resamples=50)


def test_each_rows_p_is_statsmodels_exact_mcnemar_and_the_table_is_one_holm_family(clean_rows) -> None:
    eps, rows = clean_rows
    tests = table_tests(rows)
    family, ours = [], []
    for row, row_tests in zip(rows, tests, strict=True):
        if row.is_base or row.scope == "average":
            assert row_tests == {}
            continue
        mine = [
            e for e in eps if e["intervention"] == row.intervention and row.scope in ("overall", e["suite"])
        ]
        base = [e for e in eps if e["intervention"] == "none" and row.scope in ("overall", e["suite"])]
        pairs = pair_episodes(mine, base).pairs
        for metric, outcome in OUTCOME.items():
            t = np.array([outcome(a) for a, _ in pairs])
            b = np.array([outcome(z) for _, z in pairs])
            table = [[np.sum(t & b), np.sum(t & ~b)], [np.sum(~t & b), np.sum(~t & ~b)]]
            expected = mcnemar(table, exact=True).pvalue
            got = row_tests[metric]
            assert (got.result.b, got.result.c) == (table[0][1], table[1][0])
            assert math.isclose(got.result.p_value, expected, rel_tol=0, abs_tol=1e-12)
            family.append(expected)
            ours.append(got.p_holm)
    assert len(family) == family_size(rows) == 12  # 2 treated rows x 2 metrics x (2 suites + overall)
    np.testing.assert_allclose(ours, multipletests(family, method="holm")[1], rtol=0, atol=1e-12)


def test_p_values_reach_the_csv_markdown_terminal_and_latex(clean_rows) -> None:
    _, rows = clean_rows
    tests = table_tests(rows)
    records = list(csv.DictReader(io.StringIO(ct.to_csv(rows))))
    for rec, row_tests in zip(records, tests, strict=True):
        for metric in ("sr", "cr"):
            if metric in row_tests:
                assert float(rec[f"{metric}_p_holm"]) == row_tests[metric].p_holm
                assert int(rec[f"{metric}_b"]) == row_tests[metric].result.b
            else:
                assert rec[f"{metric}_p"] == ""
    md, tex, term = ct.to_markdown(rows), ct.to_latex(rows), ct.to_terminal(rows)
    assert "p SR (Holm)" in md and "family = the 12 test(s) of this table" in md
    assert "p SR (Holm)" in tex and "p SR Holm" in term


def test_a_one_suite_overall_row_is_its_suites_test_not_a_second_one() -> None:
    eps = [e for e in golden_episodes() if e["perturbation"] == "none" and e["suite"] == "libero_spatial"]
    rows = compare(eps, by="suite", resamples=50)
    tests = table_tests(rows)
    assert family_size(rows) == 4  # 2 treated rows x 2 metrics; the overall copies add none
    by = {(r.scope, r.intervention): t for r, t in zip(rows, tests, strict=True)}
    assert by[("overall", "mist")]["sr"].p_holm == by[("libero_spatial", "mist")]["sr"].p_holm
