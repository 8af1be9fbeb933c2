"""The ``average`` row over suites and the published reference SR columns of the comparison table."""

from __future__ import annotations

import csv
import io

import pytest

from mistvla.harness.report import table as ct
from mistvla.harness.report.metrics import compare
from mistvla.harness.report.published import PUBLISHED, PUBLISHED_SUITES


def _episodes(suites: dict[str, tuple[int, int]]) -> list[dict]:
    """Per suite (successes, episodes) of the base policy, and the same outcomes for ``damp``."""
    eps = []
    for suite, (k, n) in suites.items():
        for method in ("none", "damp"):
            for i in range(n):
                eps.append(
                    {
                        "policy": "p",
                        "intervention": method,
                        "suite": suite,
                        "task": "t",
                        "task_index": i % 2,
                        "init_state": i,
                        "seed": 0,
                        "success": i < k,
                        "n_collision_onsets": 0,
                        "n_interventions": int(method == "damp"),
                    }
                )
    return eps


def test_average_is_the_unweighted_mean_over_suites():
    rows = compare(_episodes({"libero_goal": (9, 10), "libero_10": (10, 40)}), resamples=200)
    assert [r.scope for r in rows] == ["libero_10"] * 2 + ["libero_goal"] * 2 + ["average"] * 2 + [
        "overall"
    ] * 2
    avg = next(r for r in rows if r.scope == "average" and r.is_base)
    overall = next(r for r in rows if r.scope == "overall" and r.is_base)
    assert avg.sr.value == pytest.approx((0.9 + 0.25) / 2)  # not the pooled 19 / 50
    assert overall.sr.value == pytest.approx(19 / 50)
    assert avg.sr.lo < avg.sr.value < avg.sr.hi and avg.n_episodes == 50
    assert avg.rr_paired.flag == overall.rr_paired.flag  # base: not applicable, as per suite
    damp = next(r for r in rows if r.scope == "average" and not r.is_base)
    assert damp.delta_sr.value == pytest.approx(0.0)


def test_one_suite_has_no_average_row():
    rows = compare(_episodes({"libero_goal": (3, 4)}), resamples=200)
    assert {r.scope for r in rows} == {"libero_goal", "overall"}


def test_reference_columns_in_every_format():
    rows = compare(_episodes({s: (5, 10) for s in PUBLISHED_SUITES}), resamples=200)
    ref = ["openvla", "openvla_oft"]
    md = ct.to_markdown(rows, reference=ref)
    header = md.splitlines()[0]
    assert header.endswith("| OpenVLA pub. SR % | OpenVLA-OFT pub. SR % |")
    cells = {
        line.split("|")[1].strip(): line.split("|")[-3:-1]
        for line in md.splitlines()[2:]
        if line.startswith("|")
    }
    assert [c.strip() for c in cells["libero_10"]] == ["53.7", "94.5"]
    assert [c.strip() for c in cells["average"]] == ["76.5", "97.1"]
    assert [c.strip() for c in cells["overall"]] == ["-", "-"]
    assert "Kim et al. 2024" in md
    term = ct.to_terminal(rows, reference=["smolvla"])
    assert "SmolVLA (0.45B) pub. SR %" in term and "87.3" in term and "71.0" in term
    table = list(csv.DictReader(io.StringIO(ct.to_csv(rows, ref))))
    spatial = next(r for r in table if r["scope"] == "libero_spatial")
    assert float(spatial["published_sr_openvla"]) == pytest.approx(0.847)
    assert "OpenVLA-OFT pub. SR \\%" in ct.to_latex(rows, reference=ref)
    assert "pub. SR" not in ct.to_markdown(rows)  # none asked: the table of today


def test_average_reference_only_over_the_four_published_suites():
    rows = compare(_episodes({"libero_goal": (5, 10), "libero_10": (5, 10)}), resamples=200)
    md = ct.to_markdown(rows, reference=["openvla"])
    avg = next(line for line in md.splitlines() if line.startswith("| average"))
    assert avg.rstrip(" |").endswith("-")
    assert PUBLISHED["openvla"].sr["libero_goal"] == 79.2


def test_unknown_reference_in_a_config_is_a_one_line_error():
    from mistvla.harness.config.run import parse_config
    from mistvla.harness.errors import ConfigError

    base = {"name": "t", "policy": {"name": "random"}, "episodes": {"suite": "libero_goal"}}
    assert parse_config({**base, "report": {"reference": ["openvla"]}}).report.reference == ["openvla"]
    with pytest.raises(
        ConfigError, match=r"^report.reference: unknown published result 'octo'; known: openvla"
    ):
        parse_config({**base, "report": {"reference": ["octo"]}})
