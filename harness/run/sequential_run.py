"""Running a study under its pre-registered anytime-valid stopping rule (``stats.stopping``).

The run goes in **rounds of whole pairing units**: every arm (intervention
label) of a unit is run in the same round, so a unit is complete when its round
ends. After each round the :class:`~mistvla.harness.stats.sequential.SequentialMonitor`
of the pre-registration is replayed from the stored episodes over the longest
complete prefix of the units in the monitor order
(:func:`~mistvla.harness.report.hypotheses.monitor_order`, fixed before the run);
the run stops once every pre-registered question is resolved (not before
``min_units``) or at ``max_units``. The replay makes the decision a function
of the stored episodes alone, so an interrupted run resumes to the same
decision, and a finished one runs nothing more. The first round is
``min_units`` units (the rule cannot stop earlier); later rounds take one unit
of each (suite, task, condition) group, so each round builds each env once.

``stopping.json`` in the run directory records the decision, the state of each
question and the episodes saved against the planned fixed-n design.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from mistvla.harness.errors import ConfigError
from mistvla.harness.report.hypotheses import by_unit, monitor_order, unit_pair
from mistvla.harness.results.atomic import write_json_atomic
from mistvla.harness.results.store import ResultsStore
from mistvla.harness.run.plan import EpisodeSpec
from mistvla.harness.stats.prereg import Prereg
from mistvla.harness.stats.sequential import MonitorDecision

STOPPING_FILE = "stopping.json"


def ordered_units(specs: Sequence[EpisodeSpec]) -> list[tuple[tuple[Any, ...], list[EpisodeSpec]]]:
    """The run's pairing units with their episodes (every arm), in the monitor order."""
    units: dict[tuple[Any, ...], list[EpisodeSpec]] = {}
    for spec in specs:
        units.setdefault(spec.id.pairing, []).append(spec)
    return sorted(units.items(), key=lambda kv: monitor_order(kv[1][0].id))


def check_units(prereg: Prereg, n_units: int) -> None:
    """The plan must hold at least ``max_units`` units, or the rule could not run as registered."""
    assert prereg.stopping is not None
    if prereg.stopping.max_units > n_units:
        raise ConfigError(
            f"stats.stopping.max_units: {prereg.stopping.max_units} exceeds the run's {n_units} planned pairing "
            "units (tasks x conditions x init_states x seeds x repeats); plan more units or lower max_units"
        )


def replay(
    prereg: Prereg,
    units: Sequence[tuple[tuple[Any, ...], list[EpisodeSpec]]],
    records: Sequence[dict[str, Any]],
) -> tuple[MonitorDecision, int]:
    """The monitor fed the longest complete prefix of ``units``; returns its decision and the prefix length."""
    monitor = prereg.monitor()
    stored = by_unit(records)
    decision, fed = monitor.decision(), 0
    for key, specs in units:
        arms = stored.get(key, {})
        if any(s.id.intervention not in arms for s in specs) or decision.stop:
            break
        ident = specs[0].id
        decision = monitor.update({h.question: unit_pair(arms, ident, h) for h in prereg.hypotheses})
        fed += 1
    return decision, fed


def next_round(
    units: Sequence[tuple[tuple[Any, ...], list[EpisodeSpec]]], fed: int, min_units: int
) -> list[EpisodeSpec]:
    """The episodes of the next round after ``fed`` complete units (see the module doc)."""
    groups = {(s[0].id.suite, s[0].id.task_index, s[0].id.condition) for _, s in units}
    size = max(min_units - fed, len(groups), 1)
    return [spec for _, specs in units[fed : fed + size] for spec in specs]


def stopping_record(
    decision: MonitorDecision, fed: int, units: Sequence[Any], n_episodes: int, n_planned: int
) -> dict[str, Any]:
    """What ``stopping.json`` holds."""
    return {
        "stopped": decision.stop,
        "reason": decision.reason,
        "n_units": fed,
        "planned_units": len(units),
        "episodes_run": n_episodes,
        "episodes_planned": n_planned,
        "fraction_saved": round(1 - n_episodes / n_planned, 6) if n_planned else 0.0,
        "questions": [
            {
                "name": q.name,
                "b": q.b,
                "c": q.c,
                "n_units": q.n_units,
                "e_value": q.e_value,
                "threshold": q.threshold,
                "resolved_at": q.resolved_at,
            }
            for q in decision.questions
        ],
    }


def run_sequential(
    store: ResultsStore,
    prereg: Prereg,
    specs: list[EpisodeSpec],
    run_round: Callable[[list[EpisodeSpec]], None],
    progress: bool = True,
) -> dict[str, Any]:
    """Run rounds of ``specs`` through ``run_round`` until the rule stops; write and return ``stopping.json``."""
    assert prereg.stopping is not None
    units = ordered_units(specs)
    check_units(prereg, len(units))
    while True:
        decision, fed = replay(prereg, units, store.episodes().to_pylist())
        if decision.stop or fed >= len(units):
            break
        todo = next_round(units, fed, prereg.stopping.min_units)
        if progress:
            print(
                f"mistvla: stopping rule: {fed} units complete, {decision.reason}; next round "
                f"{len(todo)} episodes",
                file=sys.stderr,
            )
        run_round(todo)
    record = stopping_record(decision, fed, units, store.episodes().num_rows, len(specs))
    write_json_atomic(Path(store.run_dir) / STOPPING_FILE, record)
    if progress:
        print(
            f"mistvla: stopping rule: {decision.reason} after {fed} units "
            f"({record['fraction_saved']:.0%} of the planned episodes not needed)",
            file=sys.stderr,
        )
    return record


def read_stopping(run_dir: str | Path) -> dict[str, Any] | None:
    """The run's ``stopping.json`` (None when it ran without a stopping rule)."""
    path = Path(run_dir) / STOPPING_FILE
    return json.loads(path.read_text()) if path.exists() else None


__all__ = ["STOPPING_FILE", "check_units", "ordered_units", "read_stopping", "replay", "run_sequential"]
