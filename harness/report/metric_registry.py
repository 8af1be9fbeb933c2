"""The metrics of the comparison table, one registered definition each: what every table, CSV and plot iterates.

A :class:`MetricSpec` says how a metric is computed from one method's episodes
(and, for paired metrics, its pairing with the base policy), how it is
aggregated (its interval method), whether higher is better, and where it
appears: a column of the full table (``header``), of the compact terminal
table (``short``), a panel of the rate or delta plots (``plot``), and its
sentence in the footer (``definition``). :data:`METRICS` is the one ordered
table; :class:`~mistvla.harness.report.metric_row.MethodMetrics`,
:mod:`~mistvla.harness.report.table` (Markdown, CSV, LaTeX, terminal) and
:mod:`~mistvla.harness.report.html.plots` read it, so a new metric is one
entry here (its estimator in :mod:`~mistvla.harness.report.outcomes`), a row
in ``docs/metrics.md`` and a test that can fail.

>>> [m.name for m in METRICS][:4]
['sr', 'cr', 'rr_triggered', 'rr_paired']
>>> metric("delta_sr").signed, metric("cr").higher_is_better
(True, False)
>>> [m.short for m in table_metrics("terminal")]
['SR %', 'CR %', 'RR(b) %', 'dSR pp', 'dCR pp']
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from mistvla.harness.errors import UnknownNameError
from mistvla.harness.report.outcomes import (
    Pairing,
    clean_success,
    collision_rate,
    collisions_per_episode,
    disturbed,
    has_collision,
    has_obstacles,
    intervention_rate,
    obstacle_collision,
    obstacle_collision_rate,
    paired_delta,
    paired_rate,
    recovery_rate_disturbed,
    recovery_rate_triggered,
    success_rate,
    triggered,
)
from mistvla.harness.stats.intervals import DEFAULT_CONFIDENCE, DEFAULT_RESAMPLES, Estimate


@dataclass(frozen=True)
class MetricInput:
    """What a metric is computed from: one method's episodes, and its pairing with the base (None: the base)."""

    episodes: list[dict[str, Any]]
    pairing: Pairing | None
    confidence: float
    resamples: int
    seed: int


@dataclass(frozen=True)
class MetricSpec:
    """One metric: its estimator, aggregation, direction and where it is shown."""

    name: str
    """The key of the estimate (``row.estimates[name]``, also ``row.<name>``), CSV column stem."""
    compute: Callable[[MetricInput], Estimate]
    aggregation: str
    """Interval method of the estimate, also the method of the 'not applicable' estimate of the base."""
    higher_is_better: bool | None
    paired: bool = False
    """Needs the base policy's paired episodes (base rows get a 'not applicable' estimate)."""
    signed: bool = False
    header: str | None = None
    """Column of the full table (Markdown, LaTeX, HTML); None: CSV only."""
    short: str | None = None
    """Column of the compact terminal table; None: not there."""
    plot: Literal["rate", "delta"] | None = None
    plot_label: str = ""
    definition: str = ""
    """Its sentence in the table footer ('' : none, e.g. defined together with another metric)."""
    footer_rank: int = 100
    """Position of the sentence in the footer (the footer reads as prose, not in column order)."""
    paired_test: Callable[[dict[str, Any]], bool] | None = None
    """The per-episode outcome an exact McNemar test compares between each row and its base (None: untested;
    a scenario metric's is tested only where a hypothesis names it, over the units it ``applies`` to)."""
    applies: Callable[[dict[str, Any]], bool] | None = None
    """A *scenario metric*: defined only over the episodes for which this holds (obstacle episodes, disturbed
    episodes). Scenario metrics stay out of the comparison tables and the CSV; the robustness table shows
    each one in a column when some episode of the run applies (:func:`scenario_metrics`)."""


def _is_success(r: dict[str, Any]) -> bool:
    return bool(r["success"])


def _paired(
    select: Callable[[Any], bool], outcome: Callable[[Any], bool]
) -> Callable[[MetricInput], Estimate]:
    def compute(m: MetricInput) -> Estimate:
        assert m.pairing is not None
        return paired_rate(m.pairing, select, outcome, m.confidence)

    return compute


def _delta(outcome: Callable[[Any], bool]) -> Callable[[MetricInput], Estimate]:
    def compute(m: MetricInput) -> Estimate:
        assert m.pairing is not None
        return paired_delta(m.pairing, outcome, m.confidence, m.resamples, m.seed)

    return compute


WILSON = "wilson"
BOOTSTRAP = "cluster-bootstrap"
PAIRED_BOOTSTRAP = "paired-cluster-bootstrap"

METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("sr", lambda m: success_rate(m.episodes, m.confidence), WILSON, True,
               header="SR %", short="SR %", plot="rate", plot_label="SR",
               definition="SR: fraction of episodes that succeeded.", footer_rank=0, paired_test=_is_success),
    MetricSpec("cr", lambda m: collision_rate(m.episodes, m.confidence), WILSON, False,
               header="CR %", short="CR %", plot="rate", plot_label="CR",
               definition="CR: fraction of episodes with >= 1 collision onset.", footer_rank=1,
               paired_test=has_collision),
    MetricSpec("rr_triggered", lambda m: recovery_rate_triggered(m.episodes, m.confidence), WILSON, True,
               header="RR(a) %", plot="rate", plot_label="RR(a)",
               definition="RR(a): among episodes in which the intervention triggered, the fraction ending in "
               "clean success.", footer_rank=4),
    MetricSpec("rr_paired", _paired(lambda b: not clean_success(b), clean_success), WILSON, True, paired=True,
               header="RR(b) %", short="RR(b) %", plot="rate", plot_label="RR(b)",
               definition="RR(b): among (task, init state, seed, repeat) units where the base policy failed or "
               "collided, the fraction the intervention turned into clean success.", footer_rank=5),
    MetricSpec("delta_sr", _delta(_is_success), PAIRED_BOOTSTRAP, True, paired=True, signed=True,
               header="dSR vs base (pp)", short="dSR pp", plot="delta", plot_label="ΔSR vs base",
               definition="dSR, dCR: mean paired difference intervention minus base.", footer_rank=7),
    MetricSpec("delta_cr", _delta(has_collision), PAIRED_BOOTSTRAP, False, paired=True, signed=True,
               header="dCR vs base (pp)", short="dCR pp", plot="delta", plot_label="ΔCR vs base"),
    MetricSpec("intervention_rate", lambda m: intervention_rate(m.episodes, m.confidence), WILSON, None,
               header="Int. rate %",
               definition="Int. rate: fraction of episodes in which the intervention triggered.", footer_rank=3),
    MetricSpec("false_trigger_rate", _paired(clean_success, triggered), WILSON, False, paired=True,
               header="FTR %", definition="FTR: among units where the base policy succeeded cleanly, the "
               "fraction in which the intervention triggered.", footer_rank=6),
    MetricSpec("collisions_per_episode",
               lambda m: collisions_per_episode(m.episodes, m.confidence, m.resamples, m.seed),
               BOOTSTRAP, False),
    MetricSpec("cr_obstacle", lambda m: obstacle_collision_rate(m.episodes, m.confidence), WILSON, False,
               header="CR_obstacle %", applies=has_obstacles, paired_test=obstacle_collision,
               definition="CR_obstacle: among episodes with inserted obstacles, the fraction in which the robot "
               "or its held object touched one or one moved more than 1 mm.", footer_rank=8),
    MetricSpec("rr_disturbed", lambda m: recovery_rate_disturbed(m.episodes, m.confidence), WILSON, True,
               header="RR(d) %", applies=disturbed,
               definition="RR(d): among episodes in which a mid-episode disturbance fired, the fraction ending "
               "in clean success after it.", footer_rank=9),
)  # fmt: skip
"""Every metric, in column order (full table, then CSV-only ones)."""

_BY_NAME = {m.name: m for m in METRICS}


def metric(name: str) -> MetricSpec:
    """The registered metric ``name`` (``UnknownNameError`` naming the known ones otherwise)."""
    if name not in _BY_NAME:
        raise UnknownNameError(f"unknown metric {name!r}; known: {', '.join(_BY_NAME)}")
    return _BY_NAME[name]


def table_metrics(where: Literal["table", "terminal", "csv"]) -> list[MetricSpec]:
    """The metrics shown in the full table, the terminal table or the CSV, in order."""
    if where == "csv":
        return [m for m in METRICS if m.applies is None]
    attr = "header" if where == "table" else "short"
    return [m for m in METRICS if getattr(m, attr) is not None and m.applies is None]


def scenario_metrics(episodes: list[dict[str, Any]] | None = None) -> list[MetricSpec]:
    """The scenario metrics (``applies`` set); with ``episodes``, only those some episode applies to.

    >>> [m.name for m in scenario_metrics()], scenario_metrics([{"obstacle_collided": None}])
    (['cr_obstacle', 'rr_disturbed'], [])
    """
    found = [m for m in METRICS if m.applies is not None]
    if episodes is None:
        return found
    return [m for m in found if any(m.applies(r) for r in episodes)]


def tested_metrics() -> list[MetricSpec]:
    """The metrics each row is tested on against its base (exact McNemar, Holm over the table)."""
    return [m for m in METRICS if m.paired_test is not None and m.applies is None]


def plot_metrics(kind: Literal["rate", "delta"]) -> list[MetricSpec]:
    """The metrics drawn as panels of the rate bars or the delta forest plot."""
    return [m for m in METRICS if m.plot == kind and m.applies is None]


TERMS: tuple[tuple[int, str], ...] = ((2, "Clean success: success without any collision onset."),)
"""Footer sentences that define a term, not a column: (footer rank, sentence)."""


def definitions_text(confidence: float = DEFAULT_CONFIDENCE, resamples: int = DEFAULT_RESAMPLES) -> str:
    """Plain-text definitions of every column (from :data:`METRICS`) and of the intervals, for table footers."""
    pct = f"{confidence * 100:g}%"
    sentences = sorted(
        [*((m.footer_rank, m.definition) for m in METRICS if m.definition and m.applies is None), *TERMS]
    )
    return (
        " ".join(text for _, text in sentences) + " "
        f"Brackets: {pct} intervals; rates use Wilson score intervals with n replaced by the effective n "
        "(n / design effect, clusters = (task, init state)); deltas use a seeded cluster bootstrap "
        f"({resamples} resamples of (task, init state) clusters, percentile). "
        "n: episodes / clusters. NaN (shown as '-') means no episode qualified."
    )
