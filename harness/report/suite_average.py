"""The ``average`` rows of a several-suite run: each metric's unweighted mean over the suites.

The published LIBERO protocols (OpenVLA, OpenVLA-OFT, SmolVLA) report one SR
per suite and their plain mean, whatever the episode counts, so a run over
several suites gets, per (policy, intervention), a row whose every estimate is
the mean of that method's per-suite estimates. ``overall`` (every episode
pooled) stays beside it: with equal episodes per suite the two SRs agree.

Intervals: suites are disjoint sets of episodes, so their estimates are
independent; the lower and upper half-widths of the mean are the per-suite
half-widths combined in quadrature over ``k`` suites (a normal approximation
on each side, which keeps Wilson's asymmetry). An estimate undefined in any
suite (e.g. RR(a) where nothing triggered) is undefined in the average.

>>> from mistvla.harness.stats.intervals import Estimate
>>> a = Estimate(0.8, 0.7, 0.9, 50, 50, "wilson")
>>> b = Estimate(0.4, 0.3, 0.5, 50, 50, "wilson")
>>> e = mean_estimate([a, b])
>>> round(e.value, 3), round(e.lo, 4), round(e.hi, 4), e.n_episodes, e.method
(0.6, 0.5293, 0.6707, 100, 'mean over 2 suites of wilson')
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

from mistvla.harness.report.metric_row import MethodMetrics
from mistvla.harness.stats.intervals import Estimate, empty_estimate

AVERAGE_SCOPE = "average"


def mean_estimate(parts: Sequence[Estimate]) -> Estimate:
    """The unweighted mean of independent estimates, half-widths combined in quadrature."""
    method = f"mean over {len(parts)} suites of {parts[0].method}" if parts else "mean over suites"
    flags = {p.flag for p in parts}
    if len(flags) == 1 and None not in flags:  # e.g. "not applicable: base policy" everywhere
        return empty_estimate(parts[0].method, flags.pop() or "")
    if not parts or any(not p.ok or math.isnan(p.value) for p in parts):
        return empty_estimate(method, "undefined in a suite")
    k = len(parts)
    value = sum(p.value for p in parts) / k
    below = math.sqrt(sum((p.value - p.lo) ** 2 for p in parts if not math.isnan(p.lo))) / k
    above = math.sqrt(sum((p.hi - p.value) ** 2 for p in parts if not math.isnan(p.hi))) / k
    return Estimate(
        value,
        value - below,
        value + above,
        sum(p.n_episodes for p in parts),
        sum(p.n_clusters for p in parts),
        method,
        n_effective=sum(p.n_effective for p in parts),
    )


def suite_scopes(rows: Sequence[MethodMetrics]) -> list[str]:
    """The per-suite scopes of ``rows`` in order (not ``overall``, ``average`` or per-task scopes)."""
    out: list[str] = []
    for r in rows:
        if r.scope not in ("overall", AVERAGE_SCOPE) and "/" not in r.scope and r.scope not in out:
            out.append(r.scope)
    return out


def with_suite_average(rows: Sequence[MethodMetrics]) -> list[MethodMetrics]:
    """``rows`` with an ``average`` row per method before ``overall`` when there are 2+ suite scopes."""
    suites = suite_scopes(rows)
    if len(suites) < 2:
        return list(rows)
    methods: dict[tuple[str, str], list[MethodMetrics]] = {}
    for r in rows:
        if r.scope in suites:
            methods.setdefault((r.policy, r.intervention), []).append(r)
    average = []
    for parts in methods.values():
        notes = []
        if len(parts) < len(suites):
            have = [p.scope for p in parts]
            notes.append(f"average over {len(parts)} of {len(suites)} suites ({', '.join(have)})")
        average.append(
            replace(
                parts[0],
                scope=AVERAGE_SCOPE,
                estimates={
                    name: mean_estimate([p.estimates[name] for p in parts]) for name in parts[0].estimates
                },
                n_episodes=sum(p.n_episodes for p in parts),
                n_clusters=sum(p.n_clusters for p in parts),
                n_pairs=sum(p.n_pairs for p in parts),
                n_unpaired=sum(p.n_unpaired for p in parts),
                notes=notes,
                tests={},  # a mean over suites is not one paired comparison: untested
            )
        )
    head = [r for r in rows if r.scope != "overall"]
    return head + average + [r for r in rows if r.scope == "overall"]
