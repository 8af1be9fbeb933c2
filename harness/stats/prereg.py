"""The pre-registration record (``prereg.json``) and the confirmatory/exploratory label of each test.

``mistvla preregister CONFIG`` writes, before the first episode, which paired
comparisons will be tested (row = intervention label, metric, direction,
alpha), the analysis and the stopping rule, together with the **hash of the run
identity** (SHA-256 of its canonical JSON: sorted keys, no whitespace; the
same bytes as ``results.manifest.config_hash`` for a plain-JSON config). A
test is *confirmatory* only if it was pre-registered and the config hash is
unchanged; if the config changed after pre-registration nothing is
confirmatory.

>>> record = build_prereg({"policy": "openvla", "seeds": [0, 1]},
...                       [Hypothesis("steer", "sr", "greater")], created_utc="2026-12-03T12:00:00Z")
>>> record["config_hash"][:12], record["hypotheses"][0]["direction"]
('29804f044f15', 'greater')
>>> prereg = parse_prereg(record)
>>> classify(prereg, record["config_hash"], "steer", "sr").label
'confirmatory'
>>> classify(prereg, "0" * 64, "steer", "sr").reason
'exploratory: the config changed after pre-registration (hash 000000000000, registered 29804f044f15)'
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from mistvla.harness.errors import ConfigError, StoreError
from mistvla.harness.stats.config import StoppingConfig
from mistvla.harness.stats.rates import DiscordanceRates
from mistvla.harness.stats.sequential import Question, SequentialMonitor
from mistvla.harness.typed import from_dict, to_dict

PREREG_FILE = "prereg.json"
PREREG_VERSION = 1
ANALYSIS = "exact McNemar on the paired units, Holm across the table's rows"


def identity_hash(identity: Mapping[str, Any]) -> str:
    """SHA-256 hex of the canonical JSON of ``identity`` (sorted keys, ``(",", ":")`` separators).

    >>> identity_hash({"b": 1, "a": [1, 2]}) == identity_hash({"a": (1, 2), "b": 1})
    True
    """
    canonical = json.dumps(
        json.loads(json.dumps(dict(identity), default=str)), sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


TESTED_METRICS = ("sr", "cr", "cr_obstacle")
"""Metrics a hypothesis may test (each has a per-episode outcome in the report's metric registry)."""


@dataclass(frozen=True)
class Hypothesis:
    """One pre-registered paired test: ``row`` (intervention label) vs the base on ``metric``.

    ``direction`` "greater" means the row's rate is expected above the base's.
    """

    row: str
    metric: Literal["sr", "cr", "cr_obstacle"]
    """``cr_obstacle``: over the units whose row and base episodes both had obstacles (a scenario metric)."""
    direction: Literal["greater", "less", "two-sided"] = "two-sided"
    alpha: float = 0.05
    condition: str | None = None
    """The env condition whose units are tested (``clean``, ``actuation_noise L4``...); None: every unit."""

    def __post_init__(self) -> None:
        if not self.row:
            raise ValueError("row must be a non-empty intervention label")
        if self.metric not in TESTED_METRICS:
            raise ValueError(f"metric must be one of {list(TESTED_METRICS)}, got {self.metric!r}")
        if self.direction not in ("greater", "less", "two-sided"):
            raise ValueError(
                f"direction must be one of ['greater', 'less', 'two-sided'], got {self.direction!r}"
            )
        if not 0 < self.alpha < 0.5:
            raise ValueError(f"alpha must be in (0, 0.5), got {self.alpha}")

    @property
    def question(self) -> str:
        """The name a :class:`~.sequential.SequentialMonitor` question gets: ``"row/metric"`` (``@condition``)."""
        return f"{self.row}/{self.metric}" + (f"@{self.condition}" if self.condition else "")


@dataclass(frozen=True)
class Prereg:
    """A parsed ``prereg.json``."""

    version: int
    config_hash: str
    hypotheses: tuple[Hypothesis, ...]
    analysis: str
    created_utc: str
    stopping: StoppingConfig | None = None
    notes: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.version != PREREG_VERSION:
            raise ValueError(f"version must be {PREREG_VERSION}, got {self.version}")
        if len(self.config_hash) != 64 or any(ch not in "0123456789abcdef" for ch in self.config_hash):
            raise ValueError(f"config_hash must be 64 lowercase hex digits, got {self.config_hash!r}")
        if not self.hypotheses:
            raise ValueError("hypotheses must list at least one test")
        keys = [h.question for h in self.hypotheses]
        if len(set(keys)) != len(keys):
            raise ValueError(f"hypotheses repeat a (row, metric, condition): {keys}")

    def find(self, row: str, metric: str, condition: str | None = None) -> Hypothesis | None:
        key = (row, metric, condition)
        return next((h for h in self.hypotheses if (h.row, h.metric, h.condition) == key), None)

    def monitor(self, planned: DiscordanceRates | None = None) -> SequentialMonitor:
        """The :class:`SequentialMonitor` of the pre-registered stopping rule: one question per hypothesis
        (named ``"row/metric"``, in its direction), the family at ``stopping.alpha`` (Bonferroni)."""
        if self.stopping is None:
            raise ConfigError("stopping: the pre-registration has no stopping rule")
        a = self.stopping.prior(planned)
        return self.stopping.monitor([Question(h.question, h.direction, a) for h in self.hypotheses])


def build_prereg(identity: Mapping[str, Any], hypotheses: Sequence[Hypothesis], stopping: StoppingConfig | None = None,
                 created_utc: str | None = None, notes: Mapping[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    """The ``prereg.json`` dict (validated by :func:`parse_prereg` before it is returned)."""
    created = created_utc or dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    record = {
        "version": PREREG_VERSION,
        "config_hash": identity_hash(identity),
        "hypotheses": [to_dict(h) for h in hypotheses],
        "analysis": ANALYSIS,
        "stopping": None if stopping is None else to_dict(stopping),
        "created_utc": created,
        "notes": dict(notes or {}),
    }
    try:
        parse_prereg(record)
    except StoreError as err:
        raise ConfigError(str(err).removeprefix(f"{PREREG_FILE}: ")) from None
    return record


def parse_prereg(data: Any) -> Prereg:
    """Strictly parse a ``prereg.json`` dict; a bad file is a :class:`StoreError` naming the field."""
    data = dict(data) if isinstance(data, Mapping) else data
    if isinstance(data, dict) and isinstance(data.get("hypotheses"), list):
        data["hypotheses"] = tuple(data["hypotheses"])
    try:
        return from_dict(Prereg, data)
    except ConfigError as err:
        raise StoreError(f"{PREREG_FILE}: {str(err).removeprefix('<root>: ')}") from None


def write_prereg(run_dir: str | Path, record: Mapping[str, Any], overwrite: bool = False) -> Path:
    """Write ``record`` to ``run_dir/prereg.json`` atomically (tmp + rename); refuse to replace one."""
    path = Path(run_dir) / PREREG_FILE
    parse_prereg(record)
    if path.exists() and not overwrite:
        raise StoreError(
            f"{path}: a pre-registration exists already; a new one would not be a pre-registration"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{PREREG_FILE}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)
    return path


def read_prereg(run_dir: str | Path) -> Prereg | None:
    """The run directory's pre-registration, or ``None`` when it has none."""
    path = Path(run_dir) / PREREG_FILE
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise StoreError(f"{path}: not valid JSON ({err.msg} at line {err.lineno})") from None
    return parse_prereg(data)


@dataclass(frozen=True)
class Classification:
    """``label`` is "confirmatory" or "exploratory"; ``reason`` says why in one line."""

    label: Literal["confirmatory", "exploratory"]
    reason: str
    hypothesis: Hypothesis | None = None


def classify(prereg: Prereg | None, current_config_hash: str, row: str, metric: str,
             condition: str | None = None) -> Classification:  # fmt: skip
    """Is the test of ``row`` on ``metric`` confirmatory under ``prereg`` and the current config?"""
    if prereg is None:
        return Classification("exploratory", "exploratory: no pre-registration")
    if current_config_hash != prereg.config_hash:
        return Classification(
            "exploratory",
            f"exploratory: the config changed after pre-registration (hash {current_config_hash[:12]}, "
            f"registered {prereg.config_hash[:12]})",
        )
    hypothesis = prereg.find(row, metric, condition)
    if hypothesis is None:
        where = f"@{condition}" if condition else ""
        return Classification("exploratory", f"exploratory: {row}/{metric}{where} was not pre-registered")
    return Classification("confirmatory", f"confirmatory: pre-registered ({hypothesis.direction}, "
                          f"alpha {hypothesis.alpha:g})", hypothesis)  # fmt: skip


__all__ = [
    "ANALYSIS",
    "PREREG_FILE",
    "Classification",
    "Hypothesis",
    "Prereg",
    "build_prereg",
    "classify",
    "identity_hash",
    "parse_prereg",
    "read_prereg",
    "write_prereg",
]
