"""Anytime-valid early stopping for several pre-registered paired questions at once.

Each question (an intervention row and a metric, e.g. ``"steer/sr"``) has its
own :class:`~.eprocess.PairedEProcess`, updated after every completed pairing
unit. A question is **resolved** the first time its e-value reaches ``k / alpha``
(H0 rejected); resolution is final. The study stops when every question is
resolved (but not before ``min_units``) or at ``max_units``.

**Family-wise error.** With ``k`` questions each is tested at ``alpha / k``
(Bonferroni on the e-processes): by Ville's inequality each false rejection
has probability ``<= alpha / k`` over the whole monitored run, so the union
bound gives ``P(any false rejection) <= alpha`` under continuous monitoring and
any dependence between the questions. A Holm-style step-down on e-values is
not valid in general under optional stopping, so it is not used here (the
fixed-n analysis of the final table still uses exact McNemar + Holm).

**Feed units in the planned order.** Episodes finish out of order, and how
long a unit takes depends on its outcomes (a failure runs to the step limit,
an intervention may slow the robot). Feeding units in *completion* order
could make the order depend on the outcomes and break the martingale; feed
the longest completed prefix of the planned unit order instead (buffer the
rest). Updates after a stop decision (units already in flight) are allowed
and keep the guarantee; resolution is final.

>>> m = SequentialMonitor([Question("steer/sr", "greater")], alpha=0.05, min_units=5, max_units=100)
>>> for _ in range(7):
...     d = m.update({"steer/sr": (True, False)})
>>> d.stop, d.reason, d.questions[0].resolved_at
(True, 'all 1 questions resolved', 7)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mistvla.harness.stats.confseq import split_confidence_sequence
from mistvla.harness.stats.eprocess import DEFAULT_PRIOR_A, PairedEProcess


@dataclass(frozen=True)
class Question:
    """One pre-registered paired comparison: ``alternative`` is "greater" (treated better), "less" or "two-sided"."""

    name: str
    alternative: str = "two-sided"
    prior_a: float = DEFAULT_PRIOR_A


@dataclass(frozen=True)
class QuestionState:
    """A question after the latest unit: its counts, e-value and threshold, and whether it is resolved."""

    name: str
    b: int
    c: int
    n_units: int
    e_value: float
    threshold: float
    resolved_at: int | None  # the unit count at which H0 was rejected, None while unresolved
    prior_a: float = DEFAULT_PRIOR_A

    @property
    def resolved(self) -> bool:
        return self.resolved_at is not None

    @property
    def split_interval(self) -> tuple[float, float]:
        """Anytime-valid interval for ``P(treated side | discordant)`` at this question's level ``1 / threshold``."""
        return split_confidence_sequence(self.b, self.c, 1 / self.threshold, self.prior_a)


@dataclass(frozen=True)
class MonitorDecision:
    """Whether to stop after ``n_units`` completed units, why, and the state of every question."""

    stop: bool
    reason: str
    n_units: int
    questions: tuple[QuestionState, ...]


class SequentialMonitor:
    """Feeds completed pairing units to one e-process per question and decides when to stop."""

    def __init__(self, questions: Sequence[Question], alpha: float = 0.05, min_units: int = 1,
                 max_units: int = 1000) -> None:  # fmt: skip
        names = [q.name for q in questions]
        if not names or len(set(names)) != len(names):
            raise ValueError(f"questions must be non-empty with distinct names, got {names}")
        if not 0 < alpha < 1:
            raise ValueError(f"alpha must be in (0, 1), got {alpha}")
        if not 0 <= min_units <= max_units or max_units < 1:
            raise ValueError(
                f"need 0 <= min_units <= max_units and max_units >= 1, got {min_units}, {max_units}"
            )
        self.questions = tuple(questions)
        self.alpha = alpha
        self.min_units = min_units
        self.max_units = max_units
        self.threshold = len(names) / alpha  # Bonferroni: alpha / k per question
        self._processes = {q.name: PairedEProcess(q.alternative, q.prior_a) for q in questions}
        self._resolved_at: dict[str, int | None] = dict.fromkeys(names)
        self.n_units = 0

    def update(self, outcomes: Mapping[str, tuple[bool, bool] | None]) -> MonitorDecision:
        """Add one completed unit: ``{question: (treated_success, base_success)}`` for every question.

        ``None`` for a question leaves it unchanged for this unit (e.g. an arm
        whose episode is missing); the unit still counts towards min/max_units.
        """
        if set(outcomes) != set(self._processes):
            raise ValueError(
                f"a unit needs outcomes for exactly {sorted(self._processes)}, got {sorted(outcomes)}"
            )
        if self.n_units >= self.max_units:
            raise ValueError(f"max_units={self.max_units} already reached; the study has stopped")
        self.n_units += 1
        for name, pair in outcomes.items():
            if pair is None:
                continue
            process = self._processes[name]
            process.update(*pair)
            if self._resolved_at[name] is None and process.log_e >= math.log(self.threshold):
                self._resolved_at[name] = self.n_units
        return self.decision()

    def decision(self) -> MonitorDecision:
        """The current decision (also valid before any unit)."""
        states = tuple(
            QuestionState(
                q.name, p.b, p.c, p.n_units, p.e_value, self.threshold, self._resolved_at[q.name], q.prior_a
            )
            for q in self.questions
            for p in [self._processes[q.name]]
        )
        done = sum(s.resolved for s in states)
        k = len(states)
        if done == k and self.n_units >= self.min_units:
            return MonitorDecision(True, f"all {k} questions resolved", self.n_units, states)
        if self.n_units >= self.max_units:
            return MonitorDecision(True, f"max_units={self.max_units} reached; {done} of {k} questions resolved",
                                   self.n_units, states)  # fmt: skip
        if done == k:
            return MonitorDecision(
                False, f"all resolved; continuing to min_units={self.min_units}", self.n_units, states
            )
        return MonitorDecision(False, f"{done} of {k} questions resolved", self.n_units, states)


__all__ = ["MonitorDecision", "Question", "QuestionState", "SequentialMonitor"]
