"""Exact paired tests of every row against a reference row, on all units or a subset of init states.

For sensitivity analyses beside a run's pre-registered table (e.g. MIST Table 1 without the pilot's units)
and for row-vs-row questions the base comparison does not ask (does MIST differ from the action edit?).
Outcomes: success (``sr``) and an obstacle contact (``cr_obstacle``, over units with obstacles on both sides).

    .venv/bin/python scripts/paired_subset.py runs/mist_table1                          # every row vs none
    .venv/bin/python scripts/paired_subset.py runs/mist_table1 --init-states 42-49       # without the pilot
    .venv/bin/python scripts/paired_subset.py runs/mist_table1 --reference repel        # every row vs repel
"""

from __future__ import annotations

import argparse

from mistvla.harness.report.outcomes import has_obstacles, obstacle_collision, pair_episodes
from mistvla.harness.results.store import ResultsStore
from mistvla.harness.stats.mcnemar import mcnemar_exact
from mistvla.harness.stats.multiplicity import holm_adjust


def init_range(text: str) -> set[int]:
    lo, _, hi = text.partition("-")
    return set(range(int(lo), int(hi or lo) + 1))


def condition(r: dict) -> str:
    return "clean" if r["perturbation"] == "none" else f"{r['perturbation']} L{r['perturbation_level']}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir")
    parser.add_argument("--reference", default="none", help="the row every other row is paired with")
    parser.add_argument("--init-states", type=init_range, default=None, metavar="LO-HI")
    parser.add_argument("--condition", default=None, help="one env condition: 'clean', 'obstacle L5', ...")
    args = parser.parse_args()
    eps = ResultsStore.read(args.run_dir).episodes().to_pylist()
    if args.condition is not None:
        eps = [r for r in eps if condition(r) == args.condition]
    if args.init_states is not None:
        eps = [r for r in eps if r["init_state"] in args.init_states]
    rows = list(dict.fromkeys(r["intervention"] for r in eps))
    ref = [r for r in eps if r["intervention"] == args.reference]
    results = []
    for row in rows:
        if row == args.reference:
            continue
        pairs = pair_episodes([r for r in eps if r["intervention"] == row], ref).pairs
        sr = mcnemar_exact([bool(t["success"]) for t, _ in pairs], [bool(b["success"]) for _, b in pairs])
        obst = [(t, b) for t, b in pairs if has_obstacles(t) and has_obstacles(b)]
        cr = mcnemar_exact([obstacle_collision(t) for t, _ in obst], [obstacle_collision(b) for _, b in obst])
        same = sum(bool(t["success"]) == bool(b["success"]) for t, b in pairs)
        results.append((row, len(pairs), sr, cr, same))
    adjusted = holm_adjust([r[2].p_value for r in results]) if results else []
    scope = (
        "all units"
        if args.init_states is None
        else f"init states {min(args.init_states)}-{max(args.init_states)}"
    )
    print(
        f"{args.run_dir}, {scope}, every row vs {args.reference} (exact McNemar, two-sided; Holm over SR)\n"
    )
    print("| row | units | SR b/c | SR p | SR p (Holm) | same SR outcome | CR_obstacle b/c | CR_obstacle p |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for (row, n, sr, cr, same), p_holm in zip(results, adjusted, strict=True):
        print(f"| {row} | {n} | {sr.b}/{sr.c} | {sr.p_value:.4f} | {p_holm:.4f} | {same}/{n} | "
              f"{cr.b}/{cr.c} | {cr.p_value:.4f} |")  # fmt: skip


if __name__ == "__main__":
    main()
