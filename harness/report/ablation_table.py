"""Table 2 of the MIST study: one row per ablation, each paired against the same base episodes.

Rows are :class:`~mistvla.harness.report.metrics.MethodMetrics` whose scope is
the ablated axis (``defaults``, ``layer``, ``alpha``, ``method``, ``quantile``,
``risk``), so the comparison table's Markdown/CSV/LaTeX writers apply
unchanged; :func:`plot_strength` draws SR and CR against the relative strength.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mistvla.harness.report.metrics import MethodMetrics, method_metrics


def ablation_rows(spec: Any, episodes: dict[str, list[dict[str, Any]]], seed: int = 0) -> list[MethodMetrics]:
    """The base row (``none`` of the defaults' group), then every ablation row of ``spec``."""
    base = [e for e in episodes[spec.default_group] if e["intervention"] == "none"]
    rows = [method_metrics(base, None, "base", seed=seed)]
    for row in spec.rows():
        treated = [e for e in episodes[row.group] if e["intervention"] == row.label]
        rows.append(method_metrics(treated, base, row.axis, seed=seed))
    return rows


def plot_strength(spec: Any, rows: list[MethodMetrics], path: str | Path) -> Path | None:
    """SR and CR (with intervals) against the relative strength alpha; None without an alpha axis."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by_label = {r.intervention: r for r in rows if not r.is_base}
    points = [(spec.defaults["alpha"], by_label.get("steer"))]
    points += [(a, by_label.get(f"steer alpha={a}")) for a in spec.axes.get("alpha", [])]
    points = sorted({a: r for a, r in points if r is not None and r.n_episodes}.items())
    if len(points) < 2:
        return None
    base = rows[0]
    fig, ax = plt.subplots(figsize=(5, 3.4))
    xs = [a for a, _ in points]
    for attr, color, name in (("sr", "tab:green", "SR"), ("cr", "tab:red", "CR")):
        est = [getattr(r, attr) for _, r in points]
        ax.errorbar(
            xs,
            [e.value for e in est],
            yerr=[[e.value - e.lo for e in est], [e.hi - e.value for e in est]],
            color=color,
            marker="o",
            capsize=3,
            label=f"{name} steer",
        )
        ax.axhline(getattr(base, attr).value, color=color, ls="--", lw=1, label=f"{name} base")
    ax.set_xscale("log")
    ax.set_xticks(xs, [f"{a:g}" for a in xs])  # the alphas run, not log-scale minor labels
    ax.minorticks_off()
    ax.set_xlabel("relative strength alpha")
    ax.set_ylabel("rate")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=7)
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out


def write_ablation_table(rows: list[MethodMetrics], out_dir: str | Path, spec: Any = None) -> dict[str, Path]:
    """``table_2.md/.csv/.tex`` (and ``strength.png`` given the spec) in ``out_dir``."""
    from mistvla.harness.report.table import write_tables

    paths = write_tables(rows, out_dir, stem="table_2")
    if spec is not None:
        png = plot_strength(spec, rows, Path(out_dir) / "strength.png")
        if png is not None:
            paths["png"] = png
    return paths
