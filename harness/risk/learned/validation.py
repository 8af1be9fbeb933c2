"""Label validation, before any training: counts per horizon, type and split, and agreement with outcomes.

Three checks, each of which caught a real failure in the user's notes:

* positives per (type, horizon, split): a column with no positives (labels
  hard-coded to zero) or fewer than ``min_positives`` refuses training;
* per type, the failed episodes with an event (from the episode records: a
  ledger onset, the termination reason) against the episodes that carry a
  positive label: they must be equal (a detector that never fired gives 0
  labelled out of N failed);
* no clean-success episode carries a failure label.

>>> r = LabelReport(rows=[{"split": "all", "type": "any", "horizon": 5, "observed": 10, "masked": 0,
...                        "positives": 0}], episodes=[], clean_with_labels=0)
>>> check_trainable(r, min_positives=1)
Traceback (most recent call last):
...
mistvla.harness.errors.LabelError: labels: type 'any' horizon 5 has 0 positives in split 'all' (need >= 1)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from mistvla.harness.errors import LabelError
from mistvla.harness.risk.learned.labels import LabelSpec


def _episode_has_event(table: pa.Table, event_type: str, spec: LabelSpec) -> np.ndarray:
    """Per row: whether its episode's *record* says an event of ``event_type`` happened."""
    reason = np.asarray(table["termination_reason"])
    success = np.asarray(table["success"])
    by_type = {
        "collision": np.asarray(table["collided"]),
        "object_dropped": reason == "object_dropped",
        "physics_error": reason == "physics_error",
        "timeout": (reason == "timeout") & ~success & (spec.timeout_rule == "end"),
    }
    if event_type == "any":
        return np.any([by_type[t] for t in spec.any_types], axis=0)
    return by_type[event_type]


@dataclass
class LabelReport:
    rows: list[dict[str, Any]]
    episodes: list[dict[str, Any]]
    clean_with_labels: int
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "episodes": self.episodes,
            "clean_with_labels": self.clean_with_labels,
            "problems": self.problems,
        }

    def table(self) -> str:
        """Markdown: positives per split/type/horizon, then the episode agreement."""
        lines = [
            "| split | type | H | observed steps | masked | positives | rate |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in self.rows:
            rate = r["positives"] / r["observed"] if r["observed"] else float("nan")
            lines.append(
                f"| {r['split']} | {r['type']} | {r['horizon']} | {r['observed']} | {r['masked']} | "
                f"{r['positives']} | {rate:.3f} |"
            )
        lines += [
            "",
            "| type | episodes | with event (records) | labelled (>= 1 positive) | agree |",
            "|---|---|---|---|---|",
        ]
        for e in self.episodes:
            ok = "yes" if e["with_event"] == e["labelled"] else "**NO**"
            lines.append(f"| {e['type']} | {e['episodes']} | {e['with_event']} | {e['labelled']} | {ok} |")
        lines.append(f"\nclean-success episodes carrying a failure label: {self.clean_with_labels}")
        lines += [f"PROBLEM: {p}" for p in self.problems]
        return "\n".join(lines)


def validate_labels(
    table: pa.Table, y: np.ndarray, spec: LabelSpec, split: np.ndarray | None = None
) -> LabelReport:
    """Count and cross-check labels ``y`` (rows, horizons, types) against the episode outcomes in ``table``."""
    first: dict[tuple[int, str], int] = {}  # an id per (run, episode_key), in first-seen order
    pairs = zip(table["run"].to_pylist(), table["episode_key"].to_pylist(), strict=True)
    episode = np.fromiter((first.setdefault(p, len(first)) for p in pairs), dtype=np.int64, count=len(table))
    splits = np.full(len(episode), "all", dtype=object) if split is None else np.asarray(split, dtype=object)
    rows = []
    for s in sorted(set(splits.tolist())):
        sel = splits == s
        for k, t in enumerate(spec.types):
            for j, h in enumerate(spec.horizons):
                col = y[sel, j, k]
                rows.append(
                    {
                        "split": s,
                        "type": t,
                        "horizon": h,
                        "observed": int((col >= 0).sum()),
                        "masked": int((col < 0).sum()),
                        "positives": int((col == 1).sum()),
                    }
                )
    n_ep = int(episode.max()) + 1 if len(episode) else 0
    episodes, problems = [], []
    for k, t in enumerate(spec.types):
        has_event = np.zeros(n_ep, dtype=bool)
        has_event[episode[_episode_has_event(table, t, spec)]] = True
        labelled = np.zeros(n_ep, dtype=bool)
        labelled[episode[(y[:, :, k] == 1).any(axis=1)]] = True
        episodes.append(
            {"type": t, "episodes": n_ep, "with_event": int(has_event.sum()), "labelled": int(labelled.sum())}
        )
        if not np.array_equal(has_event, labelled):
            problems.append(
                f"type {t!r}: {int(has_event.sum())} episodes with an event in their records, "
                f"{int(labelled.sum())} with a positive label ({int((has_event != labelled).sum())} disagree)"
            )
    clean = np.asarray(table["clean"])
    clean_labelled = np.zeros(n_ep, dtype=bool)
    clean_labelled[episode[clean & (y == 1).any(axis=(1, 2))]] = True
    if clean_labelled.any():
        problems.append(f"{int(clean_labelled.sum())} clean-success episodes carry a failure label")
    return LabelReport(rows, episodes, int(clean_labelled.sum()), problems)


def check_trainable(
    report: LabelReport, min_positives: int = 20, splits: tuple[str, ...] | None = None
) -> None:
    """Refuse training (:class:`LabelError`, one line naming the count) on labels that cannot teach anything."""
    if report.problems:
        raise LabelError(f"labels disagree with episode outcomes: {report.problems[0]}")
    for r in report.rows:
        if splits is not None and r["split"] not in splits:
            continue
        if r["positives"] < max(1, min_positives):
            raise LabelError(
                f"labels: type {r['type']!r} horizon {r['horizon']} has {r['positives']} positives in split "
                f"{r['split']!r} (need >= {max(1, min_positives)})"
            )
