"""Plot sections (Plotly figures as plain dicts, drawn by the inlined plotly.js): rates, paired deltas, tasks.

* :func:`rates_section`: SR, CR, RR(a), RR(b) per scope and method, whiskers = intervals.
* :func:`deltas_section`: forest plot of the paired ΔSR and ΔCR against the base policy.
* :func:`task_heatmap_section`: SR per task x method (text: SR and n).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from mistvla.harness.report.html.data import ReportData
from mistvla.harness.report.html.section import SectionOutput, plot_div
from mistvla.harness.report.metric_registry import plot_metrics
from mistvla.harness.report.metric_row import MethodMetrics
from mistvla.harness.report.table import drop_duplicate_overall, method_label
from mistvla.harness.stats.intervals import Estimate

RATES = tuple((m.name, m.plot_label) for m in plot_metrics("rate"))
"""(metric, panel title) of the rate bars, from the metric registry."""
DELTAS = tuple((m.name, m.plot_label) for m in plot_metrics("delta"))
FONT = {"family": "system-ui, sans-serif", "size": 12}


def _ok(e: Estimate) -> bool:
    return e.ok and not math.isnan(e.value)


def _pct(x: float) -> float | None:
    return None if x is None or math.isnan(x) else round(100 * x, 2)


def _domains(n: int, gap: float = 0.06) -> list[list[float]]:
    width = (1 - gap * (n - 1)) / n
    return [[i * (width + gap), i * (width + gap) + width] for i in range(n)]


def rates_figure(rows: Sequence[MethodMetrics]) -> dict[str, Any]:
    """Grouped bars, one panel per rate in :data:`RATES`."""
    scopes = list(dict.fromkeys(r.scope for r in rows))
    methods = list(dict.fromkeys((r.policy, r.intervention) for r in rows))
    lookup = {(r.scope, r.policy, r.intervention): r for r in rows}
    traces: list[dict[str, Any]] = []
    layout: dict[str, Any] = {
        "barmode": "group",
        "font": FONT,
        "margin": {"l": 50, "r": 10, "t": 40, "b": 60},
        "legend": {"orientation": "h", "y": -0.2},
        "annotations": [],
    }
    for k, ((attr, label), dom) in enumerate(zip(RATES, _domains(len(RATES)), strict=True)):
        ax = "" if k == 0 else str(k + 1)
        layout[f"xaxis{ax}"] = {"domain": dom, "anchor": f"y{ax}", "type": "category"}
        layout[f"yaxis{ax}"] = {"range": [0, 100], "anchor": f"x{ax}", "ticksuffix": "%"}
        layout["annotations"].append(
            {
                "text": f"<b>{label}</b>",
                "xref": f"x{ax} domain",
                "yref": "paper",
                "x": 0.5,
                "y": 1.08,
                "showarrow": False,
            }
        )
        for j, (policy, intervention) in enumerate(methods):
            ys, plus, minus, text = [], [], [], []
            for scope in scopes:
                row = lookup.get((scope, policy, intervention))
                e = getattr(row, attr) if row is not None else None
                if e is None or not _ok(e):
                    ys.append(None), plus.append(None), minus.append(None), text.append("n/a")
                    continue
                ys.append(_pct(e.value))
                plus.append(_pct(max(e.hi - e.value, 0.0)))
                minus.append(_pct(max(e.value - e.lo, 0.0)))
                text.append(f"{100 * e.value:.1f}% [{100 * e.lo:.1f}, {100 * e.hi:.1f}], n={e.n_episodes}")
            traces.append(
                {
                    "type": "bar",
                    "name": f"{policy} / {intervention}",
                    "legendgroup": f"m{j}",
                    "showlegend": k == 0,
                    "marker": {"color": _color(j)},
                    "x": scopes,
                    "y": ys,
                    "error_y": {"type": "data", "array": plus, "arrayminus": minus, "thickness": 1.2},
                    "hovertext": text,
                    "hoverinfo": "text+name",
                    "xaxis": f"x{ax}",
                    "yaxis": f"y{ax}",
                }
            )
    return {"data": traces, "layout": layout}


PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")


def _color(j: int) -> str:
    return PALETTE[j % len(PALETTE)]


def forest_figure(rows: Sequence[MethodMetrics]) -> dict[str, Any] | None:
    """Points with horizontal intervals of ΔSR and ΔCR (pp) for every non-base row; None without any."""
    treated = [r for r in rows if not r.is_base and _ok(r.delta_sr)]
    if not treated:
        return None
    labels = [f"{r.scope} · {method_label(r)}" for r in treated]
    traces, layout = (
        [],
        {
            "font": FONT,
            "margin": {"l": 260, "r": 20, "t": 40, "b": 40},
            "showlegend": False,
            "shapes": [],
            "annotations": [],
        },
    )
    for k, ((attr, label), dom) in enumerate(zip(DELTAS, _domains(2, 0.1), strict=True)):
        ax = "" if k == 0 else str(k + 1)
        est = [getattr(r, attr) for r in treated]
        traces.append(
            {
                "type": "scatter",
                "mode": "markers",
                "x": [_pct(e.value) for e in est],
                "y": labels,
                "error_x": {
                    "type": "data",
                    "array": [_pct(e.hi - e.value) for e in est],
                    "arrayminus": [_pct(e.value - e.lo) for e in est],
                },
                "marker": {"size": 9, "color": "#1f77b4" if k == 0 else "#d62728"},
                "hovertext": [
                    f"{label}: {100 * e.value:+.1f} pp [{100 * e.lo:+.1f}, {100 * e.hi:+.1f}], {e.n_episodes} pairs"
                    for e in est
                ],
                "hoverinfo": "text",
                "xaxis": f"x{ax}",
                "yaxis": f"y{ax}",
            }
        )
        layout[f"xaxis{ax}"] = {
            "domain": dom,
            "anchor": f"y{ax}",
            "range": [-100, 100],
            "ticksuffix": " pp",
            "zeroline": True,
            "zerolinewidth": 2,
        }
        layout[f"yaxis{ax}"] = {
            "anchor": f"x{ax}",
            "type": "category",
            "autorange": "reversed",
            "showticklabels": k == 0,
        }
        layout["annotations"].append(
            {
                "text": f"<b>{label}</b>",
                "xref": f"x{ax} domain",
                "yref": "paper",
                "x": 0.5,
                "y": 1.06,
                "showarrow": False,
            }
        )
    return {"data": traces, "layout": layout, "height": 120 + 28 * len(treated)}


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def heatmap_figure(rows: Sequence[MethodMetrics]) -> dict[str, Any] | None:
    """SR per task (rows) x method (columns); None with a single task."""
    task_rows = [r for r in rows if r.scope != "overall"]
    tasks = list(dict.fromkeys(r.scope for r in task_rows))
    if len(tasks) < 2:
        return None
    methods = list(dict.fromkeys((r.policy, r.intervention) for r in task_rows))
    lookup = {(r.scope, r.policy, r.intervention): r for r in task_rows}
    z, text = [], []
    for t in tasks:
        zr, tr = [], []
        for m in methods:
            r = lookup.get((t, *m))
            if r is None or not _ok(r.sr):
                zr.append(None), tr.append("")
            else:
                zr.append(_pct(r.sr.value)), tr.append(f"{100 * r.sr.value:.0f}% (n={r.n_episodes})")
        z.append(zr), text.append(tr)
    short = [_cut(t.split("/", 1)[-1].replace("_", " "), 60) for t in tasks]
    trace = {
        "type": "heatmap",
        "z": z,
        "x": [f"{p} / {i}" for p, i in methods],
        "y": short,
        "text": text,
        "texttemplate": "%{text}",
        "zmin": 0,
        "zmax": 100,
        "colorscale": "Viridis",
        "colorbar": {"title": {"text": "SR %"}},
        "hovertemplate": "%{y}<br>%{x}<br>SR %{text}<extra></extra>",
    }
    layout = {
        "font": FONT,
        "margin": {"l": 20, "r": 20, "t": 20, "b": 80},
        "yaxis": {"autorange": "reversed", "automargin": True},
        "xaxis": {"automargin": True},
    }
    return {"data": [trace], "layout": layout, "height": 100 + 36 * len(tasks)}


def rates_section(data: ReportData) -> SectionOutput:
    """SR / CR / RR(a) / RR(b) bars with intervals."""
    fig = rates_figure(drop_duplicate_overall(data.rows))
    return SectionOutput("Rates", plot_div("plot-rates", 380), figures={"plot-rates": fig})


def deltas_section(data: ReportData) -> SectionOutput | None:
    """Forest plot of the paired deltas (None when no intervention has base pairs)."""
    fig = forest_figure(drop_duplicate_overall(data.rows))
    if fig is None:
        return None
    height = fig.pop("height")
    note = "<p>Paired over (suite, task, init state, seed, repeat) units against the base policy (intervention none) of the same run; whiskers: cluster-bootstrap intervals.</p>"
    return SectionOutput(
        "Paired deltas", note + plot_div("plot-deltas", height), figures={"plot-deltas": fig}
    )


def task_heatmap_section(data: ReportData) -> SectionOutput | None:
    """Per-task SR heatmap (None with one task)."""
    fig = heatmap_figure(data.task_rows)
    if fig is None:
        return None
    height = fig.pop("height")
    return SectionOutput("Success per task", plot_div("plot-tasks", height), figures={"plot-tasks": fig})
