"""The comparison table of interventions: Markdown for the terminal, CSV for tools, LaTeX (booktabs) for papers.

Rows come from :func:`mistvla.harness.report.metrics.compare`; every row is one
(policy, intervention) in one scope (a suite, a task, the average over suites,
or overall). ``reference`` names published results
(:data:`~mistvla.harness.report.published.PUBLISHED`) shown as extra SR columns
at the end. The footer states the metric definitions and interval methods
(:func:`footer_text`).
LaTeX is written by hand (no pandas Styler / jinja2).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from pathlib import Path

from mistvla.harness.report.metric_registry import definitions_text, table_metrics, tested_metrics
from mistvla.harness.report.metric_row import MethodMetrics
from mistvla.harness.report.metrics import all_collision_free
from mistvla.harness.report.paired_tests import (
    counts_cell,
    table_tests,
    terminal_cell,
    test_cell,
    tests_footer,
)
from mistvla.harness.report.published import reference_footer, reference_header, reference_sr
from mistvla.harness.report.suite_average import suite_scopes
from mistvla.harness.stats.intervals import DEFAULT_CONFIDENCE, DEFAULT_RESAMPLES, Estimate

_TABLE = table_metrics("table")
_TESTED = tested_metrics()
TEST_HEADERS = tuple(h for m in _TESTED for h in (f"{m.plot_label} b/c", f"p {m.plot_label} (Holm)"))
"""Columns of the paired tests (:mod:`~mistvla.harness.report.paired_tests`), after the estimates."""
HEADERS = ("Scope", "Method", *(m.header for m in _TABLE), *TEST_HEADERS, "n (ep/cl)")
ESTIMATE_COLUMNS = tuple((m.name, m.signed) for m in _TABLE)
"""(metric name, signed) of the numeric columns of :data:`HEADERS`, in order (from the metric registry)."""
CSV_ESTIMATES = tuple(m.name for m in table_metrics("csv"))
DASH = "-"


def format_estimate(e: Estimate, signed: bool = False, scale: float = 100.0, digits: int = 1) -> str:
    """``"62.0 [48.1, 74.2]"`` (percent by default); ``"-"`` for an empty estimate.

    >>> from mistvla.harness.stats.intervals import clustered_rate
    >>> format_estimate(clustered_rate([True, True, False, True], list("abcd")))
    '75.0 [30.1, 95.4]'
    >>> format_estimate(clustered_rate([], []))
    '-'
    """
    if not e.ok or math.isnan(e.value):
        return DASH
    sign = "+" if signed else ""
    return f"{e.value * scale:{sign}.{digits}f} [{e.lo * scale:{sign}.{digits}f}, {e.hi * scale:{sign}.{digits}f}]"


def method_label(row: MethodMetrics) -> str:
    """``policy / intervention``, marked ``(base)`` for the base policy."""
    return f"{row.policy} / {row.intervention}" + (" (base)" if row.is_base else "")


def table_cells(rows: Sequence[MethodMetrics]) -> list[list[str]]:
    """Formatted cells, one list per row, in the order of :data:`HEADERS`."""
    out = []
    for row, tests in zip(rows, table_tests(rows), strict=True):
        cells = [row.scope, method_label(row)]
        cells += [format_estimate(row.estimates[name], signed) for name, signed in ESTIMATE_COLUMNS]
        for m in _TESTED:
            cells += [counts_cell(tests.get(m.name)), test_cell(tests.get(m.name))]
        cells.append(f"{row.n_episodes}/{row.n_clusters}")
        out.append(cells)
    return out


def reference_cells(rows: Sequence[MethodMetrics], reference: Sequence[str]) -> list[list[str]]:
    """The published SR of each ``reference`` result per row (``-`` where it has none)."""
    suites = suite_scopes(rows)
    out = []
    for row in rows:
        values = [reference_sr(name, row.scope, suites) for name in reference]
        out.append([DASH if v is None else f"{v:.1f}" for v in values])
    return out


def footer_text(
    rows: Sequence[MethodMetrics],
    confidence: float = DEFAULT_CONFIDENCE,
    resamples: int = DEFAULT_RESAMPLES,
    reference: Sequence[str] = (),
) -> str:
    """Definitions of the columns and interval methods, plus warnings the numbers need read with."""
    parts = [definitions_text(confidence, resamples)]
    if any(r.tests for r in rows):
        parts.append(tests_footer(rows, {m.name: m.plot_label for m in _TESTED}))
    if reference:
        parts.append(reference_footer(reference))
    if all_collision_free(rows):
        parts.append(
            "Warning: no episode of any method recorded a collision; check that the collision "
            "detector fires at all before reading CR as evidence of safety."
        )
    for row in rows:
        for note in row.notes:
            parts.append(f"Note ({row.scope}, {method_label(row)}): {note}.")
    return "\n".join(parts)


def to_markdown(
    rows: Sequence[MethodMetrics],
    confidence: float = DEFAULT_CONFIDENCE,
    resamples: int = DEFAULT_RESAMPLES,
    reference: Sequence[str] = (),
) -> str:
    """A pipe table followed by the footer text."""

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    headers = [*HEADERS, *(reference_header(n) for n in reference)]
    lines = [line(headers), "|" + "|".join(["---", "---"] + ["---:"] * (len(headers) - 2)) + "|"]
    cells = table_cells(rows)
    lines += [line(c + r) for c, r in zip(cells, reference_cells(rows, reference), strict=True)]
    return "\n".join(lines) + "\n\n" + footer_text(rows, confidence, resamples, reference) + "\n"


SCOPE_WIDTH = 48
_TERMINAL = table_metrics("terminal")
COMPACT_HEADERS = (
    "Scope",
    "Method",
    *(m.short for m in _TERMINAL),
    *(f"p {m.plot_label} Holm" for m in _TESTED),
    "n",
)


def drop_duplicate_overall(rows: Sequence[MethodMetrics]) -> list[MethodMetrics]:
    """Drop the ``overall`` rows when one other scope holds exactly the same episodes (one suite)."""
    scopes = {r.scope for r in rows} - {"overall"}
    if len(scopes) != 1:
        return list(rows)
    (only,) = scopes
    count = {(r.scope, r.policy, r.intervention): r.n_episodes for r in rows}
    same = all(
        count.get((only, r.policy, r.intervention)) == r.n_episodes for r in rows if r.scope == "overall"
    )
    return [r for r in rows if r.scope != "overall"] if same else list(rows)


def to_terminal(rows: Sequence[MethodMetrics], reference: Sequence[str] = ()) -> str:
    """The compact table for the terminal: SR, CR, RR(b), paired deltas and n; no duplicate scope.

    The full table with every column and the definitions is ``comparison.md``.
    """
    tests = dict(zip(map(id, rows), table_tests(rows), strict=True))  # the family is the whole table
    rows = drop_duplicate_overall(rows)
    headers = [*COMPACT_HEADERS, *(reference_header(n) for n in reference)]
    body = [
        [
            row.scope if len(row.scope) <= SCOPE_WIDTH else row.scope[: SCOPE_WIDTH - 1] + "…",
            method_label(row),
            *(format_estimate(row.estimates[m.name], m.signed) for m in _TERMINAL),
            *(terminal_cell(tests[id(row)].get(m.name)) for m in _TESTED),
            f"{row.n_episodes}/{row.n_clusters}",
            *ref,
        ]
        for row, ref in zip(rows, reference_cells(rows, reference), strict=True)
    ]
    widths = [max(len(c[i]) for c in [headers, *body]) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    out = [line(headers), "  ".join("-" * w for w in widths)]
    previous = None
    for row, cells in zip(rows, body, strict=True):
        if previous is not None and row.scope != previous:
            out.append("")
        previous = row.scope
        out.append(line(cells))
    return "\n".join(out) + "\n"


def to_csv(rows: Sequence[MethodMetrics], reference: Sequence[str] = ()) -> str:
    """Raw numbers: value, lo, hi (fractions, not percent) per metric, plus counts and methods."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    header = ["scope", "policy", "intervention", "is_base"]
    for name in CSV_ESTIMATES:
        header += [name, f"{name}_lo", f"{name}_hi", f"{name}_n", f"{name}_n_eff", f"{name}_method"]
    for m in _TESTED:
        header += [f"{m.name}_b", f"{m.name}_c", f"{m.name}_p", f"{m.name}_p_holm"]
    header += ["n_episodes", "n_clusters", "n_pairs", "n_unpaired", "notes"]
    header += [f"published_sr_{name}" for name in reference]
    writer.writerow(header)
    all_tests = table_tests(rows)
    for row, ref, tests in zip(rows, reference_cells(rows, reference), all_tests, strict=True):
        values: list[object] = [row.scope, row.policy, row.intervention, row.is_base]
        for name in CSV_ESTIMATES:
            e: Estimate = row.estimates[name]
            values += [
                _num(e.value),
                _num(e.lo),
                _num(e.hi),
                e.n_episodes,
                _num(e.n_effective),
                e.flag or e.method,
            ]
        for m in _TESTED:
            t = tests.get(m.name)
            values += (
                ["", "", "", ""]
                if t is None
                else [t.result.b, t.result.c, _num(t.result.p_value), _num(t.p_holm)]
            )
        values += [row.n_episodes, row.n_clusters, row.n_pairs, row.n_unpaired, "; ".join(row.notes)]
        values += ["" if c == DASH else repr(float(c) / 100) for c in ref]  # fractions, as above
        writer.writerow(values)
    return buf.getvalue()


def _num(x: float) -> str:
    return "" if x is None or math.isnan(x) else repr(float(x))


_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


def latex_escape(text: str) -> str:
    r"""Escape LaTeX special characters.

    >>> print(latex_escape("libero_10 & 50%"))
    libero\_10 \& 50\%
    """
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)


def _latex_cell(text: str, numeric: bool) -> str:
    if not numeric:
        return latex_escape(text)
    if text == DASH:
        return "--"
    return latex_escape(text).replace("-", "$-$")


def to_latex(
    rows: Sequence[MethodMetrics],
    caption: str = "Interventions compared with the base policy.",
    label: str = "tab:comparison",
    confidence: float = DEFAULT_CONFIDENCE,
    resamples: int = DEFAULT_RESAMPLES,
    reference: Sequence[str] = (),
) -> str:
    """A ``table`` with a booktabs ``tabular`` (needs ``\\usepackage{booktabs}``), footer as a small note."""
    headers = [*HEADERS, *(reference_header(n) for n in reference)]
    cols = "ll" + "r" * (len(headers) - 2)
    lines = [
        r"\begin{table}[t]",
        r"\centering",
        r"\scriptsize",
        r"\setlength{\tabcolsep}{3pt}",
        f"\\caption{{{latex_escape(caption)}}}",
        f"\\label{{{label}}}",
        f"\\begin{{tabular}}{{{cols}}}",
        r"\toprule",
        " & ".join(
            latex_escape(h).replace("dSR", r"$\Delta$SR").replace("dCR", r"$\Delta$CR") for h in headers
        )
        + r" \\",
        r"\midrule",
    ]
    previous_scope = None
    cells_ref = zip(table_cells(rows), reference_cells(rows, reference), strict=True)
    for row, (cells, ref) in zip(rows, cells_ref, strict=True):
        if previous_scope is not None and row.scope != previous_scope:
            lines.append(r"\midrule")
        previous_scope = row.scope
        lines.append(" & ".join(_latex_cell(c, i >= 2) for i, c in enumerate(cells + ref)) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", ""]
    footer = latex_escape(footer_text(rows, confidence, resamples, reference)).replace("\n", " ")
    lines.append(r"\par\smallskip\parbox{\linewidth}{\scriptsize " + footer + "}")
    lines.append(r"\end{table}")
    return "\n".join(lines) + "\n"


def write_tables(
    rows: Sequence[MethodMetrics],
    out_dir: str | Path,
    stem: str = "comparison",
    reference: Sequence[str] = (),
) -> dict[str, Path]:
    """Write ``<stem>.md``, ``<stem>.csv`` and ``<stem>.tex`` into ``out_dir``; returns their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"md": out / f"{stem}.md", "csv": out / f"{stem}.csv", "tex": out / f"{stem}.tex"}
    paths["md"].write_text(to_markdown(rows, reference=reference))
    paths["csv"].write_text(to_csv(rows, reference))
    paths["tex"].write_text(to_latex(rows, reference=reference))
    return paths
