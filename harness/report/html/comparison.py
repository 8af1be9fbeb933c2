"""The comparison table section: every column of ``comparison.md``, sortable, with the metric definitions.

Cells hold exactly the text of :func:`mistvla.harness.report.table.table_cells`
(so the page and the terminal never disagree), plus the published SR columns
the runs' configs name (``report.reference``); each cell's ``data-v`` holds the
raw value the column sorts by.
"""

from __future__ import annotations

import math

from mistvla.harness.report.html.data import ReportData
from mistvla.harness.report.html.section import SectionOutput, esc
from mistvla.harness.report.published import reference_header
from mistvla.harness.report.table import (
    DASH,
    ESTIMATE_COLUMNS,
    HEADERS,
    drop_duplicate_overall,
    footer_text,
    reference_cells,
    table_cells,
)

SORT_SCRIPT = """
el.querySelectorAll('table.sortable th').forEach(function (th, col) {
  th.addEventListener('click', function () {
    var tbody = th.closest('table').tBodies[0];
    var asc = th.dataset.dir !== 'asc';
    th.closest('tr').querySelectorAll('th').forEach(function (h) { delete h.dataset.dir; });
    th.dataset.dir = asc ? 'asc' : 'desc';
    var rows = Array.prototype.slice.call(tbody.rows);
    rows.sort(function (a, b) {
      var x = a.cells[col].dataset.v, y = b.cells[col].dataset.v;
      var nx = parseFloat(x), ny = parseFloat(y);
      var r = (isNaN(nx) || isNaN(ny)) ? String(x).localeCompare(String(y)) : nx - ny;
      if (isNaN(nx) !== isNaN(ny)) r = isNaN(nx) ? 1 : -1;
      return asc ? r : -r;
    });
    rows.forEach(function (r) { tbody.appendChild(r); });
  });
});
"""


def _sort_value(x: float) -> str:
    return "" if x is None or math.isnan(x) else repr(float(x))


def _test_sort_value(cell: str) -> str:
    """A test column sorts by its first number (the p, or b of ``b/c``); ``<0.001`` as 0."""
    head = cell.split()[0].split("/")[0].lstrip("<")
    try:
        return repr(float(head))
    except ValueError:
        return ""


def comparison_section(data: ReportData) -> SectionOutput:
    """The sortable comparison table (one group when there is one suite) and its footer."""
    rows = drop_duplicate_overall(data.rows)
    reference = data.reference
    headers = [*HEADERS, *(reference_header(n) for n in reference)]
    head = "".join(f'<th title="click to sort">{esc(h)}</th>' for h in headers)
    body = []
    cells_ref = zip(table_cells(rows), reference_cells(rows, reference), strict=True)
    for row, (cells, ref) in zip(rows, cells_ref, strict=True):
        values = [row.scope, cells[1]]
        values += [_sort_value(getattr(row, name).value) for name, _ in ESTIMATE_COLUMNS]
        values += [_test_sort_value(c) for c in cells[len(values) : -1]]  # the paired-test columns
        values.append(str(row.n_episodes))
        values += ["" if c == DASH else c for c in ref]
        cells = cells + ref
        tds = "".join(
            f'<td data-v="{esc(v)}" class="{"num" if i >= 2 else ""}">{esc(c)}</td>'
            for i, (c, v) in enumerate(zip(cells, values, strict=True))
        )
        body.append(f'<tr class="{"base" if row.is_base else ""}">{tds}</tr>')
    html = (
        f'<table class="sortable results" id="comparison-table"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
        f'<p class="footer">{esc(footer_text(rows, reference=reference)).replace(chr(10), "<br>")}</p>'
    )
    return SectionOutput("Comparison", html, data={"n_rows": len(rows)}, script=SORT_SCRIPT)
