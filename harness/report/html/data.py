"""What the HTML report reads: one or more run directories, their episodes, thresholds and metric rows.

:func:`load_report_data` reads each run with
:meth:`~mistvla.harness.results.store.ResultsStore.read`. With several runs
(``mistvla compare``) every episode's ``policy`` is prefixed with its run name
(``"runA:scripted"``), so :func:`~mistvla.harness.report.metrics.compare` keeps
the runs apart while still pairing each intervention with the base policy of
its own run; cross-run pairs are computed by the sections that want them.
Steps are read lazily (:meth:`ReportData.steps`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pyarrow as pa

from mistvla.harness.errors import StoreError
from mistvla.harness.report.headline import headline_rows
from mistvla.harness.report.metric_row import MethodMetrics
from mistvla.harness.report.metrics import compare
from mistvla.harness.results.store import ResultsStore
from mistvla.harness.run.calibration import THRESHOLDS_FILE

BASE = "none"


@dataclass
class RunData:
    """One run directory: its name, manifest, calibration record and episode records."""

    name: str
    root: Path
    manifest: dict[str, Any]
    thresholds_record: dict[str, Any] | None
    episodes: list[dict[str, Any]]
    store: ResultsStore = field(repr=False)

    @property
    def config(self) -> dict[str, Any]:
        return dict(self.manifest.get("config") or {})

    def thresholds(self) -> dict[str, float | None]:
        """Each intervention label's gate threshold: explicit in the config, else the calibrated one."""
        calibrated = self.thresholds_record or {}
        out: dict[str, float | None] = {}
        for entry in self.config.get("interventions") or []:
            if not isinstance(entry, dict):
                continue
            label = entry.get("label") or entry.get("name", "")
            value = entry.get("threshold")
            if value is None and label in (calibrated.get("interventions") or []):
                value = calibrated.get("value")
            out[label] = None if label == BASE or value is None else float(value)
        return out


def read_run(run_dir: str | Path, name: str | None = None) -> RunData:
    """Read a run directory; ``StoreError`` if it is not one or has no finished episode."""
    root = Path(run_dir)
    if not (root / "manifest.json").is_file():
        raise StoreError(f"{root} is not a mistvla run directory (no manifest.json)")
    store = ResultsStore.read(root)
    episodes = store.episodes().to_pylist()
    if not episodes:
        raise StoreError(f"{root} has no finished episodes yet")
    thr = root / THRESHOLDS_FILE
    record = json.loads(thr.read_text()) if thr.is_file() else None
    return RunData(name or root.name, root, store.manifest, record, episodes, store)


@dataclass
class ReportData:
    """Everything a section builder may use; ``episodes`` carry a ``run`` field (the run's name)."""

    runs: list[RunData]
    by: str | None = "suite"
    seed: int = 0
    out_dir: Path | None = None
    """Folder of the page; sections put files the page links to (videos) under it."""

    @property
    def multi(self) -> bool:
        return len(self.runs) > 1

    @property
    def title(self) -> str:
        return " vs ".join(r.name for r in self.runs)

    @cached_property
    def episodes(self) -> list[dict[str, Any]]:
        out = []
        for run in self.runs:
            for e in run.episodes:
                e = {**e, "run": run.name}
                if self.multi:
                    e["policy"] = f"{run.name}:{e['policy']}"
                out.append(e)
        return out

    @cached_property
    def rows(self) -> list[MethodMetrics]:
        """The headline rows, as the terminal table leads with them (per condition for a sweep, else per ``by``)."""
        return headline_rows(self.episodes, by=self.by, seed=self.seed)

    @cached_property
    def task_rows(self) -> list[MethodMetrics]:
        """Rows per task (for the task x intervention heatmap)."""
        if self.by == "task":
            return self.rows
        return compare(self.episodes, base_intervention=BASE, by="task", seed=self.seed)

    @property
    def reference(self) -> list[str]:
        """Published results the runs' configs ask for as SR columns (``report.reference``), in order."""
        out: list[str] = []
        for run in self.runs:
            for name in (run.config.get("report") or {}).get("reference") or []:
                if name not in out:
                    out.append(name)
        return out

    def run(self, name: str) -> RunData:
        return next(r for r in self.runs if r.name == name)

    def steps(self, run: RunData) -> pa.Table:
        """The steps table of one run (every committed episode)."""
        return run.store.steps()


def load_report_data(run_dirs: list[str | Path], by: str | None = "suite", seed: int = 0) -> ReportData:
    """Read every run; runs with the same directory name get ``name#2``, ``name#3``."""
    runs: list[RunData] = []
    for d in run_dirs:
        name = Path(d).name
        taken = {r.name for r in runs}
        i = 2
        while name in taken:
            name = f"{Path(d).name}#{i}"
            i += 1
        runs.append(read_run(d, name))
    return ReportData(runs, by, seed)
