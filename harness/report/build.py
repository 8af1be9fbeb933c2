"""Turn a run directory into its report: ``report/comparison.{md,csv,tex,png}``, ``eval_info.json``, HTML.

:func:`report` returns the compact terminal table (per suite and overall, or
per task; :func:`~mistvla.harness.report.table.to_terminal`); the full table
with every column and the definitions goes to ``comparison.md``. With
``html=True`` it also writes the self-contained page ``report/index.html``
(:mod:`mistvla.harness.report.html.page`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mistvla.harness.errors import StoreError
from mistvla.harness.report.eval_info import EVAL_INFO_FILE, write_eval_info
from mistvla.harness.report.headline import headline_rows
from mistvla.harness.report.metrics import compare
from mistvla.harness.report.plot import plot_comparison
from mistvla.harness.report.prereg_tests import PREREG_TESTS_FILE, hypothesis_tests
from mistvla.harness.report.prereg_tests import to_markdown as to_markdown_tests
from mistvla.harness.report.published import check_reference
from mistvla.harness.report.robustness import clean_episodes, is_sweep
from mistvla.harness.report.table import drop_duplicate_overall, to_markdown, to_terminal, write_tables
from mistvla.harness.results.store import ResultsStore
from mistvla.harness.run.calibration import THRESHOLDS_FILE


def report(
    run_dir: str | Path,
    by: str | None = "suite",
    seed: int = 0,
    html: bool = False,
    reference: Sequence[str] | None = None,
) -> tuple[str, dict[str, Path]]:
    """Compute every metric of the run, write the report files; return the terminal text and the paths.

    ``reference``: published results shown as SR columns (None: the run config's ``report.reference``).
    """
    root = Path(run_dir)
    if not (root / "manifest.json").is_file():
        raise StoreError(f"{root} is not a mistvla run directory (no manifest.json)")
    store = ResultsStore.read(root)
    episodes = store.episodes()
    if episodes.num_rows == 0:
        raise StoreError(f"{root} has no finished episodes yet")
    sweep = is_sweep(episodes)  # the comparison is of the clean episodes; perturbed ones get their own table
    rows = compare(
        clean_episodes(episodes) if sweep else episodes, base_intervention="none", by=by, seed=seed
    )
    if reference is None:
        reference = ((store.manifest.get("config") or {}).get("report") or {}).get("reference") or []
    check_reference(reference, "reference")
    out = root / "report"
    paths = write_tables(rows, out, reference=reference)
    paths["png"] = plot_comparison(
        drop_duplicate_overall(rows),
        out / "comparison.png",
        title=store.manifest.get("config", {}).get("name"),
    )
    header = _header(root, store.manifest, episodes.num_rows)
    if store.damaged:
        names = "; ".join(problem for _, problem in store.damaged)
        header += f"Skipped {len(store.damaged)} damaged file(s), reported the rest: {names}\n\n"
    (out / "comparison.md").write_text(header + to_markdown(rows, reference=reference))
    paths["eval_info"] = write_eval_info(episodes, root / EVAL_INFO_FILE)  # where LeRobot puts it
    if html:
        from mistvla.harness.report.html.page import write_report_html

        paths["html"] = write_report_html([root], out, by=by, seed=seed)
    text = header + to_terminal(rows, reference) + f"\nAll columns and the definitions: {paths['md']}\n"
    if sweep:
        from mistvla.harness.report.robustness_table import write_robustness

        robust, more = write_robustness(
            episodes, out, seed=seed, title=store.manifest.get("config", {}).get("name")
        )
        paths.update(more)
        if (
            "interventions_by_condition_md" in paths
        ):  # lead with it, as the HTML page does (report/headline.py)
            text = (
                header
                + "Interventions per condition (each paired with the base policy under the same condition):\n\n"
                + to_terminal(headline_rows(episodes, by=by, seed=seed), reference)
                + f"\nAll columns and the definitions: {paths['interventions_by_condition_md']}; "
                + f"clean episodes per suite: {paths['md']}\n"
            )
        text += "\nRobustness to env perturbations (paired with the clean twins):\n\n" + robust
    questions = write_prereg_tests(root, store.manifest, episodes, out)
    if questions is not None:
        paths["prereg_tests"], section = questions
        text += "\nPre-registered questions (confirmatory or exploratory):\n\n" + section
    return text, paths


def write_prereg_tests(
    root: Path, manifest: dict[str, Any], episodes: Any, out: Path
) -> tuple[Path, str] | None:
    """``report/prereg_tests.md`` when the run has a pre-registration or ``stats.hypotheses``; its text."""
    from mistvla.harness.results.manifest import config_hash
    from mistvla.harness.run.sequential_run import read_stopping
    from mistvla.harness.stats.prereg import read_prereg
    from mistvla.harness.stats.study import StudyConfig
    from mistvla.harness.typed import from_dict

    prereg = read_prereg(root)
    stats = (manifest.get("config") or {}).get("stats")
    if prereg is not None:
        hypotheses = list(prereg.hypotheses)
    elif stats and stats.get("hypotheses"):
        hypotheses = from_dict(StudyConfig, stats, "stats").hypotheses
    else:
        return None
    stopping = read_stopping(root)
    tests = hypothesis_tests(episodes, hypotheses, prereg, config_hash(manifest["config"]), stopping)
    section = to_markdown_tests(tests, stopping)
    path = out / PREREG_TESTS_FILE
    path.write_text(section)
    return path, section


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
