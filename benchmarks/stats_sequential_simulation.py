"""Validation by simulation of anytime-valid early stopping (harness/stats/eprocess.py, sequential.py).

1. **Null**: ``--studies`` monitored studies per scenario with no effect
   (``p10 = p01``), the e-value checked after *every* unit up to
   ``--null-max`` units; the false-positive rate must be <= alpha (also for a
   family of 3 independent questions with Bonferroni, and compared with the
   invalid "fixed-n McNemar after every unit").
2. **Planned effect**: the fixed n from ``units_needed`` (80% power); the
   sequential test run with ``max_units`` = 1x, 1.5x and 2x that n: its power,
   mean units run and the average fraction of units saved vs the fixed n;
   the smallest ``max_units`` (grid of 0.1 x n) giving 80% sequential power
   and the saving there; and the saving if the true effect is twice the planned.

    .venv/bin/python benchmarks/stats_sequential_simulation.py [--studies 4000] [--json out.json]

Target (issue 22): null false-positive rate <= alpha over >= 2,000 monitored
studies; the saving is reported as measured. Exit status 1 if a null rate exceeds alpha.
"""

from __future__ import annotations

import argparse
import json
import math
import sys

import numpy as np

from mistvla.harness.stats.eprocess import prior_for_split
from mistvla.harness.stats.power import units_needed
from mistvla.harness.stats.rates import rates_from_effect
from mistvla.harness.stats.simulate import (
    crossing_units,
    peeking_rejection_rate,
    sequential_outcome,
    units_run,
)

ALPHA = 0.05
EFFECTS = [(0.10, 0.2), (0.10, 0.4), (0.20, 0.3), (0.20, 0.5)]


def null_rows(studies: int, max_units: int, seed: int) -> list[dict]:
    rows = []
    for psi in (0.2, 0.5):
        null = rates_from_effect(0.0, psi)
        for alternative in ("two-sided", "greater"):
            fpr = sequential_outcome(null, max_units, ALPHA, alternative, studies=studies, seed=seed).rejected
            rows.append({"psi": psi, "alternative": alternative, "questions": 1, "fpr": fpr})
        k = 3  # a family of k independent null questions, each at alpha / k
        cross = np.stack([crossing_units(null, max_units, ALPHA / k, studies=studies, seed=seed + 100 + j)
                          for j in range(k)], axis=1)  # fmt: skip
        rows.append(
            {"psi": psi, "alternative": "two-sided", "questions": k, "fpr": float((cross > 0).any(1).mean())}
        )
        peek = peeking_rejection_rate(null, max_units, ALPHA, studies=studies, seed=seed)
        rows.append(
            {
                "psi": psi,
                "alternative": "two-sided (fixed-n test after every unit)",
                "questions": 1,
                "fpr": peek,
            }
        )
    return rows


def effect_rows(studies: int, seed: int, alternative: str = "two-sided") -> list[dict]:
    rows = []
    for delta, psi in EFFECTS:
        rates = rates_from_effect(delta, psi)
        n_fixed = units_needed(rates, ALPHA, 0.8, alternative).n
        a = prior_for_split(rates.split)
        row = {"delta": delta, "psi": psi, "n_fixed": n_fixed, "prior_a": a}
        for mult in (1.0, 1.5, 2.0):
            out = sequential_outcome(
                rates, round(mult * n_fixed), ALPHA, alternative, prior_a=a, studies=studies, seed=seed
            )
            row[f"x{mult:g}"] = {
                "power": out.rejected,
                "mean_units": out.mean_units,
                "saving": out.saving_vs(n_fixed),
            }
        cross = crossing_units(rates, 3 * n_fixed, ALPHA, alternative, prior_a=a, studies=studies, seed=seed)
        for mult in np.arange(1.0, 3.01, 0.1):
            m = round(mult * n_fixed)
            hit = (cross > 0) & (cross <= m)
            if hit.mean() >= 0.8:
                used = units_run(np.where(hit, cross, 0), m)
                row["max_for_80"] = {"max_units": m, "mult": round(float(mult), 1), "power": float(hit.mean()),
                                     "saving": 1 - float(used.mean()) / n_fixed}  # fmt: skip
                break
        double = rates_from_effect(min(2 * delta, psi), psi)
        out = sequential_outcome(double, n_fixed, ALPHA, alternative, prior_a=a, studies=studies, seed=seed)
        row["true_2x"] = {"power": out.rejected, "saving": out.saving_vs(n_fixed)}
        rows.append(row)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--studies", type=int, default=4000)
    parser.add_argument("--null-max", type=int, default=1000, help="units monitored per null study")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--alternative", default="two-sided", choices=["two-sided", "greater"])
    parser.add_argument("--json")
    args = parser.parse_args()
    nulls = null_rows(args.studies, args.null_max, args.seed)
    print(f"NULL: false-positive rate, alpha {ALPHA}, checked after every unit up to {args.null_max} units, "
          f"{args.studies} studies each")  # fmt: skip
    for r in nulls:
        se = math.sqrt(r["fpr"] * (1 - r["fpr"]) / args.studies)
        print(
            f"  psi {r['psi']:.1f}  {r['alternative']:42} k={r['questions']}  FPR {r['fpr']:.4f} ± {se:.4f}"
        )
    effects = effect_rows(args.studies, args.seed, args.alternative)
    print(
        f"\nEFFECT: {args.alternative} e-process (prior a from the planned split) vs the fixed-n {args.alternative} "
        "exact McNemar at 80% power"
    )
    print(f"  {'delta':>5} {'psi':>4} {'n_fix':>5} {'a':>5} | {'max=1x: power save':>19} | {'1.5x: power save':>17} |"
          f" {'2x: power save':>15} | {'80% power at max':>22} | {'true 2x effect':>15}")  # fmt: skip
    for r in effects:
        cells = " | ".join(f"{r[k]['power']:8.3f} {r[k]['saving']:+7.1%}" for k in ("x1", "x1.5", "x2"))
        m = r.get("max_for_80")
        best = f"{m['max_units']:5d} ({m['mult']:.1f}x) {m['saving']:+7.1%}" if m else "not within 3x"
        print(f"  {r['delta']:5.2f} {r['psi']:4.1f} {r['n_fixed']:5d} {r['prior_a']:5.2f} | {cells} | {best:>22} |"
              f" {r['true_2x']['power']:6.3f} {r['true_2x']['saving']:+7.1%}")  # fmt: skip
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"null": nulls, "effect": effects}, f, indent=1)
    return 0 if all(r["fpr"] <= ALPHA for r in nulls if "fixed-n" not in r["alternative"]) else 1


if __name__ == "__main__":
    sys.exit(main())
