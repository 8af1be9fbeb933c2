"""Comparison table (Markdown, CSV, LaTeX) and bar chart."""

from __future__ import annotations

import csv
import io
import math

import numpy as np
import pytest

from mistvla.harness.report import table as ct
from mistvla.harness.report.metrics import compare
from mistvla.harness.report.plot import plot_comparison


def _episodes() -> list[dict]:
    rng = np.random.default_rng(0)
    eps = []
    for suite in ("libero_spatial", "libero_10"):
        for method, p_s, p_c, p_t in (("none", 0.5, 0.3, 0.0), ("steer_v1", 0.6, 0.15, 0.5)):
            for task in range(3):
                for init in range(4):
                    eps.append(
                        {
                            "policy": "smolvla",
                            "intervention": method,
                            "suite": suite,
                            "task": f"put the bowl & plate #{task}",
                            "task_index": task,
                            "init_state": init,
                            "seed": 0,
                            "success": bool(rng.random() < p_s),
                            "n_collision_onsets": int(rng.random() < p_c),
                            "n_interventions": int(rng.random() < p_t),
                        }
                    )
    return eps


@pytest.fixture(scope="module")
def rows():
    return compare(_episodes(), by="suite", resamples=500)


def test_markdown_has_all_columns_rows_and_definitions(rows) -> None:
    md = ct.to_markdown(rows)
    lines = md.splitlines()
    assert lines[0].startswith("| Scope | Method | SR % | CR % | RR(a) % | RR(b) %")
    table = [ln for ln in lines if ln.startswith("|")]
    assert len(table) == 2 + len(rows)
    assert all(ln.count("|") == len(ct.HEADERS) + 1 for ln in table)
    assert "RR(a): among episodes in which the intervention triggered" in md
    assert (
        "RR(b): among (task, init state, seed, repeat) units where the base policy failed or collided" in md
    )
    base_line = next(ln for ln in table if "(base)" in ln)
    assert base_line.count(" - ") >= 4  # paired metrics of the base are not applicable, not zero


def test_format_estimate_values(rows) -> None:
    sr = rows[0].sr
    cell = ct.format_estimate(sr)
    assert cell == f"{sr.value * 100:.1f} [{sr.lo * 100:.1f}, {sr.hi * 100:.1f}]"
    assert ct.format_estimate(rows[1].delta_sr, signed=True).startswith(("+", "-"))


def test_csv_round_trips_the_numbers(rows) -> None:
    parsed = list(csv.DictReader(io.StringIO(ct.to_csv(rows))))
    assert len(parsed) == len(rows)
    for row, rec in zip(rows, parsed, strict=True):
        assert rec["scope"] == row.scope and rec["intervention"] == row.intervention
        assert float(rec["sr"]) == row.sr.value
        assert float(rec["sr_lo"]) == row.sr.lo and float(rec["sr_hi"]) == row.sr.hi
        assert int(rec["n_episodes"]) == row.n_episodes and int(rec["n_clusters"]) == row.n_clusters
        if row.is_base:
            assert rec["delta_sr"] == "" and rec["delta_sr_method"].startswith("not applicable")
        else:
            assert math.isclose(float(rec["delta_sr"]), row.delta_sr.value)


def test_latex_is_booktabs_escaped_and_aligned(rows) -> None:
    tex = ct.to_latex(rows, caption="SR_and CR", label="tab:x")
    assert r"\toprule" in tex and r"\midrule" in tex and r"\bottomrule" in tex
    assert r"\caption{SR\_and CR}" in tex
    body = tex.split(r"\midrule", 1)[1].split(r"\bottomrule")[0]
    data = [ln for ln in body.splitlines() if ln.endswith(r"\\")]
    assert len(data) == len(rows)
    assert all(ln.count(" & ") == len(ct.HEADERS) - 1 for ln in data)
    assert "libero\\_spatial" in tex and "steer\\_v1" in tex
    assert tex.count("{") == tex.count("}")
    assert "$-$" in tex or "--" in tex
    assert "%" not in tex.replace(r"\%", "")  # every percent sign escaped


def test_footer_warns_when_no_collision_anywhere() -> None:
    eps = [dict(e, n_collision_onsets=0) for e in _episodes()]
    rows = compare(eps, by=None, resamples=200)
    assert "no episode of any method recorded a collision" in ct.footer_text(rows)
    assert "no episode of any method" not in ct.footer_text(compare(_episodes(), by=None, resamples=200))


def test_write_tables_and_plot(rows, tmp_path) -> None:
    paths = ct.write_tables(rows, tmp_path / "out")
    assert sorted(paths) == ["csv", "md", "tex"] and all(p.stat().st_size > 100 for p in paths.values())
    png = plot_comparison(rows, tmp_path / "out" / "bars.png")
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    import matplotlib.image

    img = matplotlib.image.imread(png)
    assert img.shape[0] > 300 and img.shape[1] > 800
    # not a blank canvas: the bars add coloured pixels
    assert np.unique(img.reshape(-1, img.shape[-1])[:, :3], axis=0).shape[0] > 20
