"""Turn a run directory into the comparison table (terminal Markdown, CSV, LaTeX, PNG)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mistvla.harness.errors import StoreError
from mistvla.harness.report.metrics import compare
from mistvla.harness.report.plot import plot_comparison
from mistvla.harness.report.table import to_markdown, write_tables
from mistvla.harness.results.store import ResultsStore
from mistvla.harness.run.calibration import THRESHOLDS_FILE


def report(run_dir: str | Path, by: str | None = "suite", seed: int = 0) -> tuple[str, dict[str, Path]]:
    """Compute every metric of the run, write ``report/comparison.{md,csv,tex,png}``; return the Markdown."""
    root = Path(run_dir)
    if not (root / "manifest.json").is_file():
        raise StoreError(f"{root} is not a mistvla run directory (no manifest.json)")
    store = ResultsStore.read(root)
    episodes = store.episodes()
    if episodes.num_rows == 0:
        raise StoreError(f"{root} has no finished episodes yet")
    rows = compare(episodes, base_intervention="none", by=by, seed=seed)
    out = root / "report"
    paths = write_tables(rows, out)
    paths["png"] = plot_comparison(
        rows, out / "comparison.png", title=store.manifest.get("config", {}).get("name")
    )
    text = to_markdown(rows)
    header = _header(root, store.manifest, episodes.num_rows)
    (out / "comparison.md").write_text(header + text)
    return header + text, paths


def _header(root: Path, manifest: dict[str, Any], n: int) -> str:
    lines = [f"Run {root} ({n} episodes)"]
    thr = root / THRESHOLDS_FILE
    if thr.exists():
        t = json.loads(thr.read_text())
        lines.append(
            f"Threshold {t['value']:.3f} ({t['risk_source']} risk) = {t['quantile']:g}-quantile of the "
            f"{t['statistic']} (n={t['n_clean']} of {t['n_episodes']}, init states {t['init_states']}); "
            f"used by {', '.join(t['interventions'])}."
        )
    return "\n".join(lines) + "\n\n"
