"""The comparison tables stay byte-identical across refactors: Markdown, CSV, LaTeX and terminal text vs golden files.

The episodes are synthetic but shaped like a real run's (two suites, three
tasks, four init states, a perturbation condition, three interventions, some
triggering), so every column, the paired metrics, the suite average, the
notes and the footer are exercised. A deliberate change of the tables
regenerates the files: ``MISTVLA_UPDATE_GOLDEN=1 pytest tests/report/test_golden_tables.py``
(then read the diff: it is the change).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from mistvla.harness.report import table as ct
from mistvla.harness.report.metrics import compare
from mistvla.harness.report.robustness import interventions_by_condition

GOLDEN = Path(__file__).parent / "golden"


def golden_episodes() -> list[dict]:
    rng = np.random.default_rng(7)
    eps = []
    methods = (("none", 0.6, 0.3, 0.0), ("stop", 0.45, 0.15, 0.5), ("mist", 0.65, 0.25, 0.35))
    for suite in ("libero_spatial", "libero_object"):
        for perturbation, level in (("none", 0), ("actuation_noise", 4)):
            for method, p_s, p_c, p_t in methods:
                for task in range(3):
                    for init in range(4):
                        if (suite, method, task, init) == ("libero_object", "mist", 2, 3):
                            continue  # one unpaired-free hole: a method missing a unit
                        hard = 0.25 if level else 0.0
                        eps.append(
                            {
                                "policy": "reference",
                                "intervention": method,
                                "suite": suite,
                                "task": f"task {task} of {suite}",
                                "task_index": task,
                                "init_state": 40 + init,
                                "seed": 0,
                                "repeat": 0,
                                "perturbation": perturbation,
                                "perturbation_level": level,
                                "success": bool(rng.random() < p_s - hard),
                                "n_collision_onsets": int(rng.random() < p_c + hard)
                                * int(rng.integers(1, 3)),
                                "n_interventions": int(rng.random() < p_t),
                            }
                        )
    return eps


def rendered_tables() -> dict[str, str]:
    eps = golden_episodes()
    out = {}
    for by in ("suite", "task", "condition"):
        if by == "condition":
            rows = interventions_by_condition(eps, resamples=300)
        else:
            rows = compare(eps, by=by, resamples=300)
        out[f"{by}.md"] = ct.to_markdown(rows)
        out[f"{by}.csv"] = ct.to_csv(rows)
        out[f"{by}.tex"] = ct.to_latex(rows)
        out[f"{by}.terminal.txt"] = ct.to_terminal(rows)
    return out


def test_tables_are_byte_identical_to_the_golden_files() -> None:
    tables = rendered_tables()
    if os.environ.get("MISTVLA_UPDATE_GOLDEN") == "1":
        GOLDEN.mkdir(exist_ok=True)
        for fname, text in tables.items():
            (GOLDEN / fname).write_text(text)
    missing = [f for f in tables if not (GOLDEN / f).is_file()]
    assert not missing, f"no golden file for {missing}: run with MISTVLA_UPDATE_GOLDEN=1"
    changed = [f for f, text in tables.items() if (GOLDEN / f).read_text() != text]
    assert not changed, f"tables differ from tests/report/golden/: {changed}"
