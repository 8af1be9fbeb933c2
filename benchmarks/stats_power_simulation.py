"""Validation by simulation of the sample-size planner (harness/stats/power.py).

For each scenario, plans the number of pairing units for 80% power at alpha
0.05 with the exact McNemar test (``units_needed``), then simulates
``--studies`` fixed-n studies at that n and counts how often the exact test
rejects. Prints one row per scenario: the planning rates, the planned n (and
the normal-approximation n), the exact power at n, the simulated power with
its Monte Carlo standard error, and whether it lies in 80% +- 3%.

    .venv/bin/python benchmarks/stats_power_simulation.py [--studies 4000] [--seed 0] [--json out.json]

Target (issue 22): every scenario's simulated power within 0.80 +- 0.03 over
>= 2,000 studies. Exit status 1 if a scenario misses it.
"""

from __future__ import annotations

import argparse
import json
import math
import sys

from mistvla.harness.stats.power import units_needed
from mistvla.harness.stats.rates import DiscordanceRates, rates_from_effect, rates_from_margins
from mistvla.harness.stats.simulate import fixed_rejection_rate

# (label, rates, alternative)
SCENARIOS: list[tuple[str, DiscordanceRates, str]] = [
    ("10pp, psi 0.2", rates_from_effect(0.10, 0.2), "two-sided"),
    ("10pp, psi 0.3", rates_from_effect(0.10, 0.3), "two-sided"),
    ("10pp, psi 0.4", rates_from_effect(0.10, 0.4), "two-sided"),
    ("20pp, psi 0.3", rates_from_effect(0.20, 0.3), "two-sided"),
    ("20pp, psi 0.5", rates_from_effect(0.20, 0.5), "two-sided"),
    ("10pp, base 0.5, rho 0", rates_from_margins(0.5, 0.10), "two-sided"),
    ("20pp, base 0.3, rho 0.4", rates_from_margins(0.3, 0.20, 0.4), "two-sided"),
    ("10pp, psi 0.3, one-sided", rates_from_effect(0.10, 0.3), "greater"),
]


def run(studies: int, seed: int) -> list[dict]:
    rows = []
    for i, (label, rates, alternative) in enumerate(SCENARIOS):
        plan = units_needed(rates, alternative=alternative)
        sim = fixed_rejection_rate(plan.n, rates, alternative=alternative, studies=studies, seed=seed + i)
        se = math.sqrt(sim * (1 - sim) / studies)
        rows.append({
            "scenario": label, "p10": rates.p10, "p01": rates.p01, "alternative": alternative, "n": plan.n,
            "normal_n": plan.normal_n, "exact_power": plan.power, "simulated_power": sim, "se": se,
            "ok": abs(sim - 0.8) <= 0.03,
        })  # fmt: skip
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--studies", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="also write the rows to this file")
    args = parser.parse_args()
    rows = run(args.studies, args.seed)
    print(
        f"planned n for 80% power, alpha 0.05, exact McNemar; {args.studies} simulated studies per scenario"
    )
    print(
        f"{'scenario':26} {'p10':>6} {'p01':>6} {'n':>5} {'normal n':>8} {'exact':>6} {'simulated':>14}  ok"
    )
    for r in rows:
        print(f"{r['scenario']:26} {r['p10']:6.3f} {r['p01']:6.3f} {r['n']:5d} {r['normal_n']:8.1f} "
              f"{r['exact_power']:6.3f} {r['simulated_power']:7.3f} ± {r['se']:.3f}  {'yes' if r['ok'] else 'NO'}")  # fmt: skip
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
