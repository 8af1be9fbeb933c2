"""The headline rows of a run: what the terminal and the HTML page both lead with.

A run without perturbations leads with the comparison per ``by`` scope (suite
or task) and overall. A run with perturbation conditions (a sweep) where
interventions were run under them leads with the comparison *per condition*
(:func:`~mistvla.harness.report.robustness.interventions_by_condition`:
``clean``, then each perturbation and level, every intervention paired with
the base policy under the same condition); pooling clean and perturbed
episodes into one row would mix two questions. A sweep of the base policy
alone leads with its clean comparison (the robustness table follows it).

>>> ep = lambda i, p, lvl, m: {"policy": "p", "intervention": m, "suite": "s", "task_index": 0,
...     "init_state": i, "seed": 0, "perturbation": p, "perturbation_level": lvl, "success": True,
...     "n_collision_onsets": 0, "n_interventions": 0}
>>> eps = [ep(i, p, lvl, m) for i in range(2) for p, lvl in (("none", 0), ("camera", 2)) for m in ("none", "stop")]
>>> [(r.scope, r.intervention) for r in headline_rows(eps)]
[('clean', 'none'), ('clean', 'stop'), ('camera L2', 'none'), ('camera L2', 'stop')]
"""

from __future__ import annotations

from typing import Any

from mistvla.harness.report.metric_row import MethodMetrics
from mistvla.harness.report.metrics import compare
from mistvla.harness.report.outcomes import as_records
from mistvla.harness.report.robustness import clean_episodes, interventions_by_condition, is_sweep

BASE = "none"


def headline_rows(episodes: Any, by: str | None = "suite", seed: int = 0) -> list[MethodMetrics]:
    """The rows the run's report leads with (terminal and HTML page alike)."""
    eps = as_records(episodes)
    if not is_sweep(eps):
        return compare(eps, base_intervention=BASE, by=by, seed=seed)
    crossed = interventions_by_condition(eps, seed=seed)
    return crossed or compare(clean_episodes(eps), base_intervention=BASE, by=by, seed=seed)
