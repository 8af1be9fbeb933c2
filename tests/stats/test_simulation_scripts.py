"""The two simulation benchmarks run (smaller) and meet their targets: planned n gives 80% +- 3% power,
and the monitored false-positive rate stays <= alpha."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def _run(script: str, *args: str, out: Path) -> dict | list:
    proc = subprocess.run(
        [sys.executable, str(BENCH / script), *args, "--json", str(out)], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(out.read_text())


def test_power_simulation_meets_80_percent_within_3_points(tmp_path) -> None:
    rows = _run("stats_power_simulation.py", "--studies", "2000", "--seed", "7", out=tmp_path / "p.json")
    assert len(rows) >= 6 and all(abs(r["simulated_power"] - 0.8) <= 0.03 for r in rows)


def test_sequential_simulation_keeps_alpha_and_reports_savings(tmp_path) -> None:
    got = _run(
        "stats_sequential_simulation.py", "--studies", "2000", "--null-max", "300", out=tmp_path / "s.json"
    )
    valid = [r for r in got["null"] if "fixed-n" not in r["alternative"]]
    assert valid and all(r["fpr"] <= 0.05 for r in valid)
    assert all(r["fpr"] > 0.1 for r in got["null"] if "fixed-n" in r["alternative"])
    for row in got["effect"]:
        assert row["x1"]["saving"] > 0.1 and row["x2"]["power"] >= 0.85
        assert row["true_2x"]["saving"] > 0.5 and 1.0 <= row["max_for_80"]["mult"] <= 2.0
