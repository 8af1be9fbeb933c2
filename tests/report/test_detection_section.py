"""The report's failure-detection section on a real results store: present with risk and both outcomes."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "results"))  # the store tests' record helpers
from test_results_store_helpers import CONFIG, make_record, make_steps

from mistvla.harness.report.html.data import load_report_data
from mistvla.harness.report.html.detection import detection_section
from mistvla.harness.results.store import ResultsStore


def _run(root: Path, outcomes: list[bool]) -> Path:
    with ResultsStore.open(root, CONFIG) as store:
        for i, ok in enumerate(outcomes):
            steps = make_steps(20, seed=i)
            # failures carry higher risk than successes: the detector separates them perfectly
            steps["risk_score"] = np.full(20, 0.2 if ok else 0.9, dtype=np.float32)
            store.write_episode(make_record(task=i % 2, init=i, success=ok, episode_index=i), steps)
    return root


def test_detection_section_separates_failures(tmp_path: Path) -> None:
    run = _run(tmp_path / "run", [True, False, True, False])
    out = detection_section(load_report_data([run]))
    assert out is not None and "Risk as a failure detector" == out.title
    summary = out.data["summaries"]["run"]
    assert summary["n"] == 4 and summary["n_failures"] == 2
    assert summary["auc"][1.0] == pytest.approx(1.0) and summary["auc"][0.1] == pytest.approx(1.0)
    assert set(out.figures) == {"plot-roc", "plot-auc-time", "plot-lead"}


def test_no_section_without_both_outcomes(tmp_path: Path) -> None:
    run = _run(tmp_path / "run", [True, True, True])
    assert detection_section(load_report_data([run])) is None
