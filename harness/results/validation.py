"""Checks on episode records and step columns before anything is written.

:func:`validate_episode` and :func:`steps_table` raise naming every problem,
so a bad record fails loudly at write time rather than silently skewing a
metric later.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from mistvla.harness.results.schema import (
    DEFAULTED_EPISODE_FIELDS,
    EPISODE_SCHEMA,
    FILLED_BY_STORE,
    NULLABLE_EPISODE_FIELDS,
    REQUIRED_STEP_COLUMNS,
    STEP_SCHEMA,
    TERMINATION_REASONS,
)

_INT_FIELDS = {f.name for f in EPISODE_SCHEMA if pa.types.is_integer(f.type)}
_FLOAT_FIELDS = {f.name for f in EPISODE_SCHEMA if pa.types.is_floating(f.type)}
_BOOL_FIELDS = {f.name for f in EPISODE_SCHEMA if pa.types.is_boolean(f.type)}
_STR_FIELDS = {f.name for f in EPISODE_SCHEMA if pa.types.is_string(f.type)}


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace: equal values give equal strings."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=_json_default)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    raise TypeError(f"not JSON-serialisable: {type(obj).__name__}")


def validate_episode(record: Mapping[str, Any]) -> dict[str, Any]:
    """Check an episode record and return a normalised copy (defaults filled, env_kwargs as JSON).

    Raises ``ValueError`` naming every problem found: missing or unknown
    fields, wrong types, an unknown termination reason and inconsistent
    fields (e.g. ``collided`` without a collision onset).
    """
    rec: dict[str, Any] = {**DEFAULTED_EPISODE_FIELDS, **dict(record)}
    if not isinstance(rec.get("env_kwargs", ""), str):
        rec["env_kwargs"] = canonical_json(rec["env_kwargs"])
    problems: list[str] = []
    names = set(EPISODE_SCHEMA.names)
    missing = sorted(names - FILLED_BY_STORE - set(rec))
    unknown = sorted(set(rec) - names)
    if missing:
        problems.append(f"missing fields {missing}")
    if unknown:
        problems.append(f"unknown fields {unknown}")
    for name in sorted(names & set(rec)):
        value = rec[name]
        if value is None:
            if name not in NULLABLE_EPISODE_FIELDS:
                problems.append(f"{name} is None")
            continue
        if name in _BOOL_FIELDS and not isinstance(value, (bool, np.bool_)):
            problems.append(f"{name} must be bool, got {type(value).__name__}")
        elif name in _INT_FIELDS and (
            isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer))
        ):
            problems.append(f"{name} must be int, got {type(value).__name__}")
        elif name in _FLOAT_FIELDS and not isinstance(value, (int, float, np.integer, np.floating)):
            problems.append(f"{name} must be a number, got {type(value).__name__}")
        elif name in _STR_FIELDS and not isinstance(value, str):
            problems.append(f"{name} must be str, got {type(value).__name__}")
    if problems:
        raise ValueError("invalid episode record: " + "; ".join(problems))
    _check_consistency(rec, problems)
    if problems:
        raise ValueError("inconsistent episode record: " + "; ".join(problems))
    rec["hidden_layers"] = [str(x) for x in rec["hidden_layers"]]
    return rec


def _check_consistency(rec: Mapping[str, Any], problems: list[str]) -> None:
    if rec["termination_reason"] not in TERMINATION_REASONS:
        problems.append(f"termination_reason {rec['termination_reason']!r} not in {TERMINATION_REASONS}")
    if bool(rec["success"]) != (rec["termination_reason"] == "success"):
        problems.append("success must be True exactly when termination_reason == 'success'")
    if bool(rec["collided"]) != (rec["n_collision_onsets"] >= 1):
        problems.append("collided must equal n_collision_onsets >= 1")
    if (rec["first_collision_step"] is None) != (rec["n_collision_onsets"] == 0):
        problems.append("first_collision_step must be set exactly when n_collision_onsets >= 1")
    if (rec["first_intervention_step"] is None) != (rec["n_interventions"] == 0):
        problems.append("first_intervention_step must be set exactly when n_interventions >= 1")
    if rec["n_interventions"] > 0 and rec["intervention_steps"] < rec["n_interventions"]:
        problems.append("intervention_steps must be >= n_interventions")
    for name in (
        "steps",
        "n_collision_onsets",
        "n_interventions",
        "intervention_steps",
        "init_state",
        "task_index",
    ):
        if rec[name] < 0:
            problems.append(f"{name} must be >= 0")
    for name in ("first_collision_step", "first_intervention_step"):
        if rec[name] is not None and not 0 <= rec[name] < max(rec["steps"], 1):
            problems.append(f"{name}={rec[name]} outside [0, steps={rec['steps']})")
    if rec["steps"] > rec["max_steps"]:
        problems.append(f"steps={rec['steps']} > max_steps={rec['max_steps']}")
    force = rec["max_collision_force"]
    if force is not None and (math.isnan(force) or force < 0):
        problems.append("max_collision_force must be None or a number >= 0")
    json.loads(rec["env_kwargs"])


def _as_columns(steps: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    if isinstance(steps, Mapping):
        return dict(steps)
    rows = list(steps)
    cols = {name for row in rows for name in row}
    return {name: [row.get(name) for row in rows] for name in cols}


def steps_table(
    steps: Mapping[str, Any] | Sequence[Mapping[str, Any]], n_steps: int, run_id: str, key: str
) -> pa.Table:
    """Build the Arrow steps table of one episode from columns (or rows) and check it.

    ``steps`` maps column names of :data:`STEP_SCHEMA` to arrays with one entry
    per step (``n_steps`` of them); ``step`` defaults to ``0..n_steps-1`` and the
    optional columns (risk, force, quaternion, state) to null.
    """
    cols = _as_columns(steps)
    unknown = sorted(set(cols) - set(STEP_SCHEMA.names) - {"run_id", "episode_key"})
    missing = sorted(set(REQUIRED_STEP_COLUMNS) - set(cols))
    if unknown or missing:
        raise ValueError(f"invalid steps: missing columns {missing}, unknown columns {unknown}")
    cols.setdefault("step", np.arange(n_steps, dtype=np.int32))
    arrays = []
    for field in STEP_SCHEMA:
        if field.name == "run_id":
            arrays.append(pa.array([run_id] * n_steps, pa.string()))
            continue
        if field.name == "episode_key":
            arrays.append(pa.array([key] * n_steps, pa.string()))
            continue
        values = cols.get(field.name)
        if values is None:
            arrays.append(pa.nulls(n_steps, field.type))
            continue
        if len(values) != n_steps:
            raise ValueError(
                f"steps column {field.name!r} has {len(values)} rows, episode has {n_steps} steps"
            )
        arrays.append(_to_arrow(values, field))
    return pa.Table.from_arrays(arrays, schema=STEP_SCHEMA)


def _to_arrow(values: Any, field: pa.Field) -> pa.Array:
    if pa.types.is_fixed_size_list(field.type):
        arr = np.asarray(values, dtype=np.float32)
        width = field.type.list_size
        if arr.ndim != 2 or arr.shape[1] != width:
            raise ValueError(
                f"steps column {field.name!r} must have shape (n_steps, {width}), got {arr.shape}"
            )
        return pa.FixedSizeListArray.from_arrays(pa.array(arr.ravel(), pa.float32()), width)
    if pa.types.is_list(field.type):
        return pa.array(
            [None if v is None else np.asarray(v, np.float32).tolist() for v in values], field.type
        )
    if isinstance(values, np.ndarray):
        return pa.array(values, type=field.type, from_pandas=True)
    return pa.array(list(values), type=field.type)


def episode_table(records: Sequence[Mapping[str, Any]]) -> pa.Table:
    """Arrow table of validated, complete episode records (store-filled fields included)."""
    return pa.Table.from_pylist([dict(r) for r in records], schema=EPISODE_SCHEMA)
