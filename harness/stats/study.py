"""The ``stats:`` block of a run config: the pre-registered questions, the power plan and the stopping rule.

>>> from mistvla.harness.typed import from_dict
>>> s = from_dict(StudyConfig, {"hypotheses": [{"row": "mist", "metric": "cr", "direction": "less"}],
...                             "stopping": {"max_units": 400, "min_units": 20}}, "stats")
>>> s.hypotheses[0].question, s.stopping.max_units
('mist/cr', 400)
>>> from_dict(StudyConfig, {"stopping": {"max_units": 400}}, "stats")
Traceback (most recent call last):
...
mistvla.harness.errors.ConfigError: stats: stopping needs hypotheses to stop on (stats.hypotheses is empty)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mistvla.harness.stats.config import PowerConfig, StoppingConfig
from mistvla.harness.stats.prereg import Hypothesis


@dataclass(kw_only=True)
class StudyConfig:
    """What the run is meant to answer (``hypotheses``), with what power (``power``), stopping how (``stopping``).

    ``mistvla preregister CONFIG`` writes the hypotheses and the stopping rule
    into ``prereg.json`` before the first episode; ``mistvla plan CONFIG
    --power`` sizes the run from ``power``; ``mistvla run`` warns when the
    planned units cannot detect ``power.effect_pp`` and, with ``stopping``,
    stops once every hypothesis is resolved (``docs/statistics.md``).
    """

    hypotheses: list[Hypothesis] = field(default_factory=list)
    power: PowerConfig | None = None
    stopping: StoppingConfig | None = None

    def __post_init__(self) -> None:
        if self.stopping is not None and not self.hypotheses:
            raise ValueError("stopping needs hypotheses to stop on (stats.hypotheses is empty)")
        questions = [h.question for h in self.hypotheses]
        if len(set(questions)) != len(questions):
            raise ValueError(f"hypotheses repeat a (row, metric, condition): {questions}")
