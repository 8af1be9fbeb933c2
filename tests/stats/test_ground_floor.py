"""harness/stats is a ground-floor package: numpy, scipy, the standard library, errors, typed and itself."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

STATS = Path(__file__).resolve().parents[2] / "harness" / "stats"
ALLOWED = ("numpy", "scipy", "mistvla.harness.errors", "mistvla.harness.typed", "mistvla.harness.stats")


def test_stats_imports_only_the_ground_floor() -> None:
    bad = []
    for path in sorted(STATS.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            bad += [f"{path.name}:{node.lineno} {m}" for m in names
                    if m.split(".")[0] not in sys.stdlib_module_names and not m.startswith(ALLOWED)]  # fmt: skip
    assert not bad, bad
