"""The robustness table (Markdown, CSV, LaTeX) and its heatmap (PNG): perturbation x level, SR and paired deltas.

Rows come from :func:`~mistvla.harness.report.robustness.robustness_rows`.
With interventions crossed in, :func:`write_robustness` also writes the
intervention comparison within each condition (``interventions_by_condition``)
with the usual comparison-table writers.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mistvla.harness.report.metric_registry import metric
from mistvla.harness.report.robustness import RobustnessRow, interventions_by_condition, robustness_rows
from mistvla.harness.report.table import _num, format_estimate, latex_escape, write_tables

HEADERS = (
    "Perturbation",
    "Level",
    "Method",
    "SR %",
    "CR %",
    "dSR vs clean (pp)",
    "dCR vs clean (pp)",
    "n (ep/pairs)",
)
FOOTER = (
    "SR, CR: success and collision rates (Wilson intervals with a design-effect-adjusted n). "
    "dSR, dCR: mean paired difference perturbed minus clean over episodes paired with their clean twin "
    "(same policy, intervention, task, init state, seed, repeat); cluster bootstrap over (task, init state). "
    "Perturbation levels: docs/perturbations.md. n: episodes / clean-paired episodes."
)


def _scenario(rows: Sequence[RobustnessRow]) -> list[str]:
    """Names of the scenario metrics in these rows (CR_obstacle, RR(d): only when the run has such episodes)."""
    return list(dict.fromkeys(name for r in rows for name in r.scenario))


def headers(rows: Sequence[RobustnessRow]) -> list[str]:
    extra = [str(metric(name).header) for name in _scenario(rows)]
    return [*HEADERS[:5], *extra, *HEADERS[5:]]


def footer(rows: Sequence[RobustnessRow]) -> str:
    return " ".join([FOOTER, *(metric(name).definition for name in _scenario(rows))])


def cells(rows: Sequence[RobustnessRow]) -> list[list[str]]:
    out = []
    names = _scenario(rows)
    for r in rows:
        out.append(
            [
                "clean" if r.is_clean else r.perturbation,
                str(r.level),
                f"{r.policy} / {r.intervention}",
                format_estimate(r.sr),
                format_estimate(r.cr),
                *(format_estimate(r.scenario[n]) if n in r.scenario else "-" for n in names),
                format_estimate(r.delta_sr, signed=True),
                format_estimate(r.delta_cr, signed=True),
                f"{r.n_episodes}/{r.n_pairs}",
            ]
        )
    return out


def to_markdown_table(rows: Sequence[RobustnessRow]) -> str:
    def line(c: Sequence[str]) -> str:
        return "| " + " | ".join(c) + " |"

    head = headers(rows)
    lines = [line(head), "|---|---:|---|" + "---:|" * (len(head) - 3)]
    lines += [line(c) for c in cells(rows)]
    notes = [f"Note ({r.condition}, {r.intervention}): {n}." for r in rows for n in r.notes]
    return "\n".join(lines) + "\n\n" + "\n".join([footer(rows), *notes]) + "\n"


def to_csv_table(rows: Sequence[RobustnessRow]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    head = ["policy", "intervention", "perturbation", "level"]
    names = ["sr", "cr", "delta_sr", "delta_cr", *_scenario(rows)]
    for m in names:
        head += [m, f"{m}_lo", f"{m}_hi"]
    w.writerow([*head, "n_episodes", "n_pairs"])
    for r in rows:
        vals: list[Any] = [r.policy, r.intervention, r.perturbation, r.level]
        for m in names:
            e = getattr(r, m) if m in ("sr", "cr", "delta_sr", "delta_cr") else r.scenario.get(m)
            vals += ["", "", ""] if e is None else [_num(e.value), _num(e.lo), _num(e.hi)]
        w.writerow([*vals, r.n_episodes, r.n_pairs])
    return buf.getvalue()


def to_latex_table(rows: Sequence[RobustnessRow], caption: str = "Robustness to env perturbations.") -> str:
    lines = [
        r"\begin{table}[t]",
        r"\centering",
        r"\scriptsize",
        f"\\caption{{{latex_escape(caption)}}}",
        r"\label{tab:robustness}",
        r"\begin{tabular}{lrl" + "r" * (len(headers(rows)) - 3) + "}",
        r"\toprule",
        " & ".join(
            latex_escape(h).replace("dSR", r"$\Delta$SR").replace("dCR", r"$\Delta$CR") for h in headers(rows)
        )
        + r" \\",
        r"\midrule",
    ]
    for c in cells(rows):
        num = [
            latex_escape(x).replace("-", "$-$") if i >= 3 and x != "-" else latex_escape(x)
            for i, x in enumerate(c)
        ]
        lines.append(" & ".join(num) + r" \\")
    lines += [
        r"\bottomrule",
        r"\end{tabular}",
        r"\par\smallskip\parbox{\linewidth}{\scriptsize " + latex_escape(footer(rows)) + "}",
        r"\end{table}",
    ]
    return "\n".join(lines) + "\n"


def plot_heatmap(rows: Sequence[RobustnessRow], path: str | Path, title: str | None = None) -> Path:
    """SR heatmap: perturbation (rows) x level (columns, 0 = clean), one panel per method."""
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    methods = list(dict.fromkeys((r.policy, r.intervention) for r in rows))
    perts = list(dict.fromkeys(r.perturbation for r in rows if not r.is_clean)) or ["clean"]
    levels = list(range(0, 6))
    fig = Figure(figsize=(1.2 + 3.4 * len(methods), 0.9 + 0.38 * len(perts)))
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(methods), squeeze=False)[0]
    image = None
    for ax, (policy, intervention) in zip(axes, methods, strict=True):
        grid = np.full((len(perts), len(levels)), np.nan)
        mine = [r for r in rows if (r.policy, r.intervention) == (policy, intervention)]
        clean = next((r for r in mine if r.is_clean), None)
        for i, p in enumerate(perts):
            if clean is not None:
                grid[i, 0] = clean.sr.value
            for r in mine:
                if r.perturbation == p and not r.is_clean:
                    grid[i, r.level] = r.sr.value
        image = ax.imshow(grid, vmin=0.0, vmax=1.0, cmap="RdYlGn", aspect="auto")
        for (i, j), v in np.ndenumerate(grid):
            if not math.isnan(v):
                ax.text(j, i, f"{v * 100:.0f}", ha="center", va="center", fontsize=7)
        ax.set_xticks(range(len(levels)), [str(lv) for lv in levels], fontsize=7)
        ax.set_yticks(range(len(perts)), perts, fontsize=7)
        ax.set_xlabel("level (0 = clean)", fontsize=7)
        ax.set_title(f"{policy} / {intervention}: SR %", fontsize=8)
    if image is not None:
        fig.colorbar(image, ax=list(axes), shrink=0.8)
    if title:
        fig.suptitle(title, fontsize=9)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=130, bbox_inches="tight")
    return out


def write_robustness(
    episodes: Any, out_dir: str | Path, seed: int = 0, title: str | None = None
) -> tuple[str, dict[str, Path]]:
    """Write ``robustness.{md,csv,tex,png}`` (and ``interventions_by_condition.*`` when crossed).

    Returns the robustness table's Markdown (the per-condition comparison leads the
    terminal text instead: :mod:`~mistvla.harness.report.headline`) and the paths.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = robustness_rows(episodes, seed=seed)
    text = to_markdown_table(rows)
    paths = {
        "robustness_md": out / "robustness.md",
        "robustness_csv": out / "robustness.csv",
        "robustness_tex": out / "robustness.tex",
    }
    paths["robustness_md"].write_text(text)
    paths["robustness_csv"].write_text(to_csv_table(rows))
    paths["robustness_tex"].write_text(to_latex_table(rows))
    paths["robustness_png"] = plot_heatmap(rows, out / "robustness.png", title=title)
    crossed = interventions_by_condition(episodes, seed=seed)
    if crossed:
        for k, p in write_tables(crossed, out, stem="interventions_by_condition").items():
            paths[f"interventions_by_condition_{k}"] = p
    return text, paths
