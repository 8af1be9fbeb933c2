"""Risk labels from simulator events: the rules of ``docs/risk_labels.md``, one function each.

Time convention: step row ``t`` holds the observation (and hidden state) the
policy saw *before* action ``t`` was executed; an event recorded in row ``e``
(``n_collision_events > 0``) happened while action ``e`` ran, i.e. between
observation ``e`` and ``e + 1``. So ``y[t, H] = 1`` iff an event row ``e`` has
``t <= e <= t + H - 1`` (the event lies in ``(t, t + H]``).

Right-censoring: when an episode ends without its future being known
(``timeout`` for event types other than ``timeout``, ``stopped`` by an
intervention, ``crash``), a step whose window runs past the last executed
action and holds no event is **masked** (``-1``), not labelled 0. A window
that holds an event is a known positive whatever comes after.

>>> y = horizon_labels(6, [3], censored=False, horizons=(1, 2))
>>> y.tolist()  # rows 0..5, horizons 1 and 2: the event lies between rows 3 and 4
[[0, 0], [0, 0], [0, 1], [1, 1], [0, 0], [0, 0]]
>>> horizon_labels(6, [], censored=True, horizons=(2,))[:, 0].tolist()  # last row's window is unobserved
[0, 0, 0, 0, 0, -1]
>>> collision_dims(np.array([[0.0, 0.0, -1.0, 0, 0, 0, -1]] * 5), onset_row=4).tolist()
[0, 0, 1, 0, 0, 0, 0]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mistvla.harness.errors import LabelError

EVENT_TYPES = ("collision", "object_dropped", "physics_error", "timeout")
"""Failure events with a time. ``any`` is the union of :attr:`LabelSpec.any_types`."""
CENSORING_REASONS = ("stopped", "crash")
"""Terminations that cut the episode short: its future is unknown, so late windows are masked."""
DEFAULT_HORIZONS = (5, 10, 20, 40)
MOTION_DIMS = 6
ACTION_DIM = 7
MASKED = -1


@dataclass
class LabelSpec:
    """Which labels to make and the event rules (stored with the dataset and the checkpoint)."""

    horizons: tuple[int, ...] = DEFAULT_HORIZONS
    types: tuple[str, ...] = ("any", "collision", "timeout")
    any_types: tuple[str, ...] = ("collision", "object_dropped", "physics_error")
    """Event types whose union is ``any``; ``timeout`` is left out by default (its time is the step limit)."""
    timeout_rule: str = "end"
    """``end``: a timeout is an event at the last executed action; ``exclude``: no timeout events."""
    dim_window: int = 5
    """Executed actions summed, up to and including the onset row, for the per-dimension rule."""
    dim_fraction: float = 0.5
    """A dimension is labelled when its share reaches this fraction of the largest one."""
    dim_min_motion: float = 0.05
    """Below this summed command (action units) nothing is labelled (the robot was not moving)."""
    check_ledger: bool = True
    """Refuse episodes whose step rows disagree with the episode's collision summary."""
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.horizons = tuple(int(h) for h in self.horizons)
        self.types = tuple(self.types)
        self.any_types = tuple(self.any_types)
        if not self.horizons or min(self.horizons) < 1 or list(self.horizons) != sorted(set(self.horizons)):
            raise LabelError(f"labels.horizons: need increasing positive step counts, got {self.horizons}")
        for t in (*self.types, *self.any_types):
            if t != "any" and t not in EVENT_TYPES:
                raise LabelError(
                    f"labels.types: unknown event type {t!r} (known: any, {', '.join(EVENT_TYPES)})"
                )
        if self.timeout_rule not in ("end", "exclude"):
            raise LabelError(f"labels.timeout_rule: 'end' or 'exclude', got {self.timeout_rule!r}")
        if self.timeout_rule == "exclude" and "timeout" in self.types:
            raise LabelError("labels.types: 'timeout' with timeout_rule 'exclude' would have no events")

    def to_dict(self) -> dict[str, Any]:
        return {
            "horizons": list(self.horizons),
            "types": list(self.types),
            "any_types": list(self.any_types),
            "timeout_rule": self.timeout_rule,
            "dim_window": self.dim_window,
            "dim_fraction": self.dim_fraction,
            "dim_min_motion": self.dim_min_motion,
            "check_ledger": self.check_ledger,
        }


def episode_events(
    record: Mapping[str, Any], n_collision_events: Sequence[int], spec: LabelSpec
) -> dict[str, list[int]]:
    """Event rows per type of one episode (see the module docstring for the time convention).

    Collisions: every row with a ledger onset. ``object_dropped``/``physics_error``:
    the last executed action of an episode that ended so. ``timeout`` (rule ``end``):
    the last executed action of an unsuccessful episode that hit the step limit.
    """
    onsets = np.asarray(n_collision_events, dtype=np.int64)
    n_exec = int(record["steps"])
    rows = np.flatnonzero(onsets[:n_exec] > 0).tolist()
    if spec.check_ledger:
        first = record.get("first_collision_step")
        if int(onsets.sum()) != int(record["n_collision_onsets"]) or (rows[0] if rows else None) != first:
            raise LabelError(
                f"episode {record.get('episode_key')}: step rows have {int(onsets.sum())} collision onsets "
                f"(first at row {rows[0] if rows else None}), the episode record {record['n_collision_onsets']} "
                f"(first_collision_step {first})"
            )
    reason = record["termination_reason"]
    last = [n_exec - 1] if n_exec > 0 else []
    events = {
        "collision": rows,
        "object_dropped": last if reason == "object_dropped" else [],
        "physics_error": last if reason == "physics_error" else [],
        "timeout": last
        if (reason == "timeout" and not record["success"] and spec.timeout_rule == "end")
        else [],
    }
    events["any"] = sorted({e for t in spec.any_types for e in events[t]})
    return events


def is_censored(record: Mapping[str, Any], event_type: str) -> bool:
    """Whether the episode's future past its last executed action is unknown for ``event_type``."""
    reason = record["termination_reason"]
    if reason in CENSORING_REASONS:
        return True
    return reason == "timeout" and event_type != "timeout" and not record["success"]


def horizon_labels(
    n_rows: int, event_rows: Sequence[int], censored: bool, horizons: Sequence[int], n_exec: int | None = None
) -> np.ndarray:
    """``(n_rows, len(horizons))`` int8: 1 event in ``(t, t+H]``, 0 none, -1 unknown (censored).

    ``n_exec`` is the number of executed actions (default ``n_rows``); rows past it (a
    stopped episode's last row) have no observed transition.
    """
    n_exec = n_rows if n_exec is None else n_exec
    t = np.arange(n_rows)[:, None]
    h = np.asarray(horizons)[None, :]
    y = np.zeros((n_rows, len(horizons)), dtype=np.int8)
    for e in event_rows:
        y[(t <= e) & (e <= t + h - 1)] = 1
    if censored:
        y[(y == 0) & (t + h > n_exec)] = MASKED
    return y


def collision_dims(
    executed: np.ndarray, onset_row: int, window: int = 5, fraction: float = 0.5, min_motion: float = 0.05
) -> np.ndarray:
    """Which motion dimensions carried the robot into the obstacle at ``onset_row``: ``(7,)`` 0/1.

    The executed (delta end-effector pose) commands of the ``window`` rows up to
    and including the onset row are summed per dimension (x, y, z, roll, pitch,
    yaw, in action units: translation and rotation are both scaled to [-1, 1]).
    Every dimension whose absolute sum reaches ``fraction`` of the largest is
    labelled; nothing is labelled when the largest is below ``min_motion`` (a
    contact while holding still). The gripper (index 6) is never labelled.

    The contact normal is not in the steps table; the commanded motion before
    the onset is what a policy-side intervention can change, so the rule uses
    it (``docs/risk_labels.md``).

    >>> sweep = np.array([[0.1, -0.9, 0.0, 0, 0, 0.05, -1]] * 5)
    >>> collision_dims(sweep, 4).tolist()
    [0, 1, 0, 0, 0, 0, 0]
    """
    lo = max(0, onset_row - window + 1)
    motion = np.abs(np.asarray(executed, dtype=np.float64)[lo : onset_row + 1, :MOTION_DIMS].sum(axis=0))
    out = np.zeros(ACTION_DIM, dtype=np.int8)
    peak = float(motion.max()) if motion.size else 0.0
    if peak < min_motion:
        return out
    out[:MOTION_DIMS] = motion >= fraction * peak
    return out


@dataclass
class EpisodeLabels:
    """Labels of one episode's rows: ``y`` (rows, horizons, types) int8 and ``dims`` (rows, 7) int8.

    ``dims[t]`` is the per-dimension label of the next collision within the
    largest horizon (``-1`` where row ``t`` has none: the per-dimension head is
    trained on those rows only). ``events`` maps each type to its event rows.
    """

    y: np.ndarray
    dims: np.ndarray
    events: dict[str, list[int]]


def label_episode(record: Mapping[str, Any], steps: Mapping[str, Any], spec: LabelSpec) -> EpisodeLabels:
    """All labels of one episode from its record and its step columns (``n_collision_events``, ``executed_action``)."""
    n_rows = len(steps["n_collision_events"])
    n_exec = int(record["steps"])
    events = episode_events(record, steps["n_collision_events"], spec)
    y = np.stack(
        [
            horizon_labels(n_rows, events[t], is_censored(record, t), spec.horizons, n_exec)
            for t in spec.types
        ],
        axis=-1,
    )
    dims = np.full((n_rows, ACTION_DIM), MASKED, dtype=np.int8)
    executed = np.asarray(list(steps["executed_action"]), dtype=np.float64).reshape(n_rows, ACTION_DIM)
    hmax = spec.horizons[-1]
    for e in reversed(events["collision"]):  # the nearest onset wins
        d = collision_dims(executed, e, spec.dim_window, spec.dim_fraction, spec.dim_min_motion)
        dims[max(0, e - hmax + 1) : e + 1] = d
    return EpisodeLabels(y, dims, events)
