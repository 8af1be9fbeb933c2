"""The report's pre-registered questions: each test confirmatory or exploratory, and its decision.

For every hypothesis of the run's ``prereg.json`` (or, without one, of the
config's ``stats.hypotheses``, all exploratory) the exact McNemar test in the
registered direction on its paired units (:mod:`~mistvla.harness.report.hypotheses`),
Holm-adjusted over the hypotheses (the family = the pre-registered questions),
and the label of :func:`~mistvla.harness.stats.prereg.classify`: confirmatory
only when pre-registered with the same config hash as the episodes were run
under. A run stopped by its anytime-valid rule (``stopping.json``) decides by
the e-value (reject when it reached ``k / alpha``); the McNemar p-values of an
optionally stopped sample are then descriptive, and the table says so.

>>> from mistvla.harness.stats.prereg import Hypothesis
>>> eps = [{"policy": "p", "intervention": arm, "suite": "s", "task_index": 0, "init_state": i, "seed": 0,
...         "repeat": 0, "success": arm == "mist" or i < 2,
...         "n_collision_onsets": 0} for i in range(12) for arm in ("none", "mist")]
>>> t = hypothesis_tests(eps, [Hypothesis("mist", "sr", "greater")], None, "0" * 64)[0]
>>> (t.result.b, t.result.c, round(t.result.p_value, 5), t.decision, t.classification.label)
(10, 0, 0.00098, 'reject H0', 'exploratory')
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mistvla.harness.report.hypotheses import unit_outcomes
from mistvla.harness.stats.mcnemar import McNemarResult, mcnemar_exact
from mistvla.harness.stats.multiplicity import holm_adjust
from mistvla.harness.stats.prereg import Classification, Hypothesis, Prereg, classify

PREREG_TESTS_FILE = "prereg_tests.md"


@dataclass(frozen=True)
class HypothesisTest:
    """One pre-registered question as reported."""

    hypothesis: Hypothesis
    result: McNemarResult
    p_holm: float
    classification: Classification
    sequential: Mapping[str, Any] | None = None  # its entry of stopping.json

    @property
    def decision(self) -> str:
        if self.sequential is not None:
            return (
                "reject H0 (e-value)"
                if self.sequential["resolved_at"] is not None
                else "not rejected (e-value)"
            )
        if math.isnan(self.p_holm):
            return "no paired units"
        return "reject H0" if self.p_holm <= self.hypothesis.alpha else "not rejected"


def hypothesis_tests(
    episodes: Any,
    hypotheses: Sequence[Hypothesis],
    prereg: Prereg | None,
    config_hash: str,
    stopping: Mapping[str, Any] | None = None,
) -> list[HypothesisTest]:
    """The tests of ``hypotheses`` on ``episodes`` (labelled against ``prereg`` and the run's ``config_hash``)."""
    results = []
    for h in hypotheses:
        pairs = [pair for _, pair in unit_outcomes(episodes, h)]
        results.append(mcnemar_exact([t for t, _ in pairs], [b for _, b in pairs], h.direction))
    valid = [i for i, r in enumerate(results) if not math.isnan(r.p_value)]
    adjusted = dict(zip(valid, holm_adjust([results[i].p_value for i in valid]), strict=True))
    seq = {q["name"]: q for q in (stopping or {}).get("questions", [])}
    return [
        HypothesisTest(
            h,
            r,
            adjusted.get(i, math.nan),
            classify(prereg, config_hash, h.row, h.metric, h.condition),
            seq.get(h.question),
        )
        for i, (h, r) in enumerate(zip(hypotheses, results, strict=True))
    ]


def _p(p: float) -> str:
    return "-" if math.isnan(p) else f"{p:.3g}"


def to_markdown(tests: Sequence[HypothesisTest], stopping: Mapping[str, Any] | None = None) -> str:
    """The questions as a Markdown table with its notes."""
    head = [
        "question",
        "direction",
        "alpha",
        "units",
        "b/c",
        "p (exact McNemar)",
        "p (Holm)",
        "decision",
        "status",
    ]
    if stopping is not None:
        head[7:7] = ["e-value / threshold"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for t in tests:
        cells = [
            t.hypothesis.question,
            t.hypothesis.direction,
            f"{t.hypothesis.alpha:g}",
            str(t.result.n_pairs),
            f"{t.result.b}/{t.result.c}",
            _p(t.result.p_value),
            _p(t.p_holm),
            t.decision,
            t.classification.reason,
        ]
        if stopping is not None:
            q = t.sequential or {}
            cells[7:7] = [f"{q.get('e_value', math.nan):.3g} / {q.get('threshold', math.nan):.3g}"]
        lines.append("| " + " | ".join(cells) + " |")
    notes = [
        "",
        "b: units where the row's outcome is true and the base's false; c: the reverse (outcome: success for sr, "
        "a collision for cr). One-sided tests in the registered direction; Holm over these questions.",
        "Confirmatory: pre-registered in prereg.json before the first episode, with the config hash the episodes "
        "were run under; anything else is exploratory.",
    ]
    if stopping is not None:
        notes.append(
            f"Anytime-valid stopping: {stopping['reason']} after {stopping['n_units']} of {stopping['planned_units']} "
            f"planned units ({stopping['fraction_saved']:.0%} of the planned episodes not run). The decision is the "
            "e-value's (H0 rejected once it reached the threshold k/alpha); the McNemar p-values of an optionally "
            "stopped sample are descriptive."
        )
    return "\n".join(lines + notes) + "\n"


__all__ = ["PREREG_TESTS_FILE", "HypothesisTest", "hypothesis_tests", "to_markdown"]
