"""Across runs (``mistvla compare``): each later run's methods paired with the first run's same intervention.

Episodes are matched on the pairing key (suite, task, init state, seed, repeat),
so two checkpoints or two perturbation levels evaluated on the same starts give
paired ΔSR / ΔCR with cluster-bootstrap intervals; starts only one run has are
counted as unpaired.
"""

from __future__ import annotations

from mistvla.harness.report.html.data import ReportData
from mistvla.harness.report.html.section import SectionOutput, esc
from mistvla.harness.report.metrics import delta_collision_rate, delta_success_rate, pair_episodes
from mistvla.harness.report.table import format_estimate


def crossrun_section(data: ReportData) -> SectionOutput | None:
    """Paired deltas of every later run against the first (None for a single run)."""
    if not data.multi:
        return None
    ref = data.runs[0]
    rows, table_data = [], []
    for run in data.runs[1:]:
        for intervention in sorted({e["intervention"] for e in run.episodes}):
            treated = [e for e in run.episodes if e["intervention"] == intervention]
            base = [e for e in ref.episodes if e["intervention"] == intervention]
            if not base:
                continue
            pairing = pair_episodes(treated, base)
            d_sr = delta_success_rate(treated, base, seed=data.seed)
            d_cr = delta_collision_rate(treated, base, seed=data.seed)
            cells = [
                f"{run.name} vs {ref.name}",
                intervention,
                format_estimate(d_sr, signed=True),
                format_estimate(d_cr, signed=True),
                f"{len(pairing.pairs)}",
                f"{pairing.n_unpaired_treated} / {pairing.n_unpaired_base}",
            ]
            table_data.append({"run": run.name, "intervention": intervention, "delta_sr": d_sr.value})
            rows.append("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in cells) + "</tr>")
    head = "".join(
        f"<th>{h}</th>"
        for h in ("runs", "intervention", "ΔSR (pp)", "ΔCR (pp)", "pairs", "unpaired (run / ref)")
    )
    html = (
        f"<p>Each run against <b>{esc(ref.name)}</b>, same intervention, matched on "
        "(suite, task, init state, seed, repeat).</p>"
        f'<table class="results" id="crossrun-table"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
    )
    return SectionOutput("Across runs", html, data={"rows": table_data})
