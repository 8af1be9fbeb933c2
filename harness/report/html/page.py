"""Assemble the self-contained report page: sections in order, plotly.js and styles inlined.

:data:`SECTIONS` is the default list of section builders
(:mod:`mistvla.harness.report.html.section`); pass your own list to
:func:`render_page` / :func:`write_report_html`, or append to a copy of it, to
add a section (``docs/report.md``). The page loads nothing from the network and
links only to files inside its own folder (copied videos).
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from mistvla.harness.report.html.browser import browser_section
from mistvla.harness.report.html.comparison import comparison_section
from mistvla.harness.report.html.crossrun import crossrun_section
from mistvla.harness.report.html.data import ReportData, load_report_data
from mistvla.harness.report.html.detection import detection_section
from mistvla.harness.report.html.header import header_section
from mistvla.harness.report.html.plots import deltas_section, rates_section, task_heatmap_section
from mistvla.harness.report.html.section import SectionBuilder, SectionOutput, esc, to_json
from mistvla.harness.results.atomic import write_text_atomic

SECTIONS: tuple[SectionBuilder, ...] = (
    header_section,
    comparison_section,
    rates_section,
    deltas_section,
    task_heatmap_section,
    detection_section,
    crossrun_section,
    browser_section,
)
"""The default sections, in page order."""

PAGE_FILE = "index.html"

_BOOT = """
(function () {
  var sections = JSON.parse(document.getElementById('mistvla-data').textContent);
  sections.forEach(function (s) {
    var el = document.getElementById(s.id);
    Object.keys(s.figures).forEach(function (div) {
      var f = s.figures[div];
      Plotly.newPlot(div, f.data, f.layout, { responsive: true, displaylogo: false });
    });
    if (window.MISTVLA_SECTIONS[s.id]) window.MISTVLA_SECTIONS[s.id](s.data, el);
  });
  document.body.dataset.ready = '1';
})();
"""


def _asset(name: str) -> str:
    return resources.files("mistvla.harness.report.html").joinpath(name).read_text()


def build_sections(data: ReportData, sections: Sequence[SectionBuilder] = SECTIONS) -> list[SectionOutput]:
    """Run every builder; those returning None are left out."""
    return [out for build in sections if (out := build(data)) is not None]


def render_page(data: ReportData, sections: Sequence[SectionBuilder] = SECTIONS) -> str:
    """The whole page as one HTML string."""
    from plotly.offline import get_plotlyjs

    outputs = build_sections(data, sections)
    ids: list[str] = []
    for out in outputs:
        base, i = f"sec-{out.key}", 2
        sid = base
        while sid in ids:
            sid, i = f"{base}-{i}", i + 1
        ids.append(sid)
    nav = "".join(f'<a href="#{sid}">{esc(o.title)}</a>' for sid, o in zip(ids, outputs, strict=True))
    body = "".join(
        f'<section id="{sid}"><h2>{esc(o.title)}</h2>{o.html}</section>'
        for sid, o in zip(ids, outputs, strict=True)
    )
    scripts = "".join(
        f"window.MISTVLA_SECTIONS[{to_json(sid)}] = function (data, el) {{\n{o.script}\n}};\n"
        for sid, o in zip(ids, outputs, strict=True)
        if o.script
    )
    payload = to_json(
        [{"id": sid, "data": o.data, "figures": o.figures} for sid, o in zip(ids, outputs, strict=True)]
    )
    title = f"mistvla report: {data.title}"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{esc(title)}</title>'
        f"<style>{_asset('report.css')}</style>"
        f"<script>{get_plotlyjs()}</script></head><body>"
        f"<header><h1>{esc(title)}</h1><nav>{nav}</nav></header><main>{body}</main>"
        f'<script type="application/json" id="mistvla-data">{payload}</script>'
        f"<script>window.MISTVLA_SECTIONS = {{}};\n{scripts}{_BOOT}</script></body></html>\n"
    )


def write_report_html(
    run_dirs: Sequence[str | Path],
    out_dir: str | Path | None = None,
    by: str | None = "suite",
    seed: int = 0,
    sections: Sequence[SectionBuilder] = SECTIONS,
) -> Path:
    """Write ``index.html`` for one run (default folder ``RUN/report``) or several (``out_dir`` required)."""
    if out_dir is None:
        if len(run_dirs) != 1:
            raise ValueError("out_dir is required for a report across several runs")
        out_dir = Path(run_dirs[0]) / "report"
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = load_report_data(list(run_dirs), by=by, seed=seed)
    data.out_dir = out
    path = out / PAGE_FILE
    write_text_atomic(path, render_page(data, sections))
    return path
