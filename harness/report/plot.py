"""Bar chart of the comparison (PNG, matplotlib Agg backend): one panel per metric, bars with intervals.

Within a panel, groups are scopes (suites, tasks, overall) and bars within a
group are methods; whiskers span the confidence interval. Empty estimates are
drawn as no bar with an ``n/a`` label rather than a zero-height bar.
matplotlib is imported inside :func:`plot_comparison` so importing this module
is cheap, and the figure gets its own Agg canvas (pyplot and the global backend
are not touched).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from mistvla.harness.report.metric_registry import metric
from mistvla.harness.report.metric_row import MethodMetrics

DEFAULT_METRICS = tuple((name, metric(name).plot_label) for name in ("sr", "cr", "rr_triggered", "delta_sr"))
"""(registered metric, panel title) of the PNG's panels."""


def _short(scope: str, width: int = 28) -> str:
    """A tick label: a task scope without its suite, cut to ``width`` characters."""
    name = scope.split("/", 1)[-1]
    return name if len(name) <= width else name[: width - 1] + "…"


def plot_comparison(
    rows: Sequence[MethodMetrics],
    path: str | Path,
    metrics: Sequence[tuple[str, str]] = DEFAULT_METRICS,
    title: str | None = None,
) -> Path:
    """Draw ``rows`` (from :func:`mistvla.harness.report.metrics.compare`) into a PNG at ``path``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    scopes = list(dict.fromkeys(r.scope for r in rows))
    methods = list(dict.fromkeys((r.policy, r.intervention) for r in rows))
    lookup = {(r.scope, r.policy, r.intervention): r for r in rows}
    width = 0.8 / max(len(methods), 1)
    panel_width = max(2.6, 0.3 * len(scopes) * max(len(methods), 1))
    fig = Figure(figsize=(1.0 + panel_width * len(metrics), 4.2))
    FigureCanvasAgg(fig)  # Agg backend for this figure only; the global backend is left alone
    axes = fig.subplots(1, len(metrics), squeeze=False)[0]
    colors = [f"C{i % 10}" for i in range(len(methods))]
    for ax, (attr, label) in zip(axes, metrics, strict=True):
        signed = metric(attr).signed
        for j, (policy, intervention) in enumerate(methods):
            for i, scope in enumerate(scopes):
                x = i + (j - (len(methods) - 1) / 2) * width
                row = lookup.get((scope, policy, intervention))
                est = getattr(row, attr) if row is not None else None
                if est is None or not est.ok or math.isnan(est.value):
                    ax.text(x, 0.0, "n/a", ha="center", va="bottom", fontsize=6, rotation=90, color="0.4")
                    continue
                err = [[max(est.value - est.lo, 0.0)], [max(est.hi - est.value, 0.0)]]
                ax.bar(
                    x,
                    est.value,
                    width * 0.95,
                    yerr=err,
                    capsize=2,
                    color=colors[j],
                    label=f"{policy} / {intervention}" if i == 0 else None,
                    error_kw={"elinewidth": 0.8},
                )
        ax.set_xticks(
            range(len(scopes)),
            [_short(s) for s in scopes],
            rotation=30 if len(scopes) > 2 else 0,
            ha="right",
            fontsize=7,
        )
        ax.set_title(label, fontsize=9)
        if signed:
            ax.axhline(0.0, color="0.3", linewidth=0.6)
            ax.set_ylim(-1.0, 1.0)
        else:
            ax.set_ylim(0.0, 1.0)
        ax.tick_params(axis="y", labelsize=7)
        ax.grid(axis="y", linewidth=0.3, alpha=0.5)
    handles, labels = axes[0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 4), fontsize=7, frameon=False)
    fig.suptitle(title or "Comparison with the base policy (whiskers: 95% intervals)", fontsize=10)
    fig.tight_layout(rect=(0, 0.08, 1, 0.95))
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=130)
    return out
