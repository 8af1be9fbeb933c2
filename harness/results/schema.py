"""Written schema of the episode and step records a run produces (version :data:`SCHEMA_VERSION`).

An *episode record* is one row per episode (:class:`EpisodeRecord`), a *steps
table* one row per control step. Both are stored as Parquet with the Arrow
schemas :data:`EPISODE_SCHEMA` and :data:`STEP_SCHEMA`; ``docs/results_format.md``
describes every field. :func:`validate_episode` and :func:`steps_table` check
input before anything is written, so a bad record fails loudly at write time
rather than silently skewing a metric later.

Both the Arrow schema and the :class:`EpisodeRecord` type come from one field
table, :data:`EPISODE_FIELDS`; its identifying fields are those of
:class:`~mistvla.harness.results.identity.EpisodeId`.

>>> from mistvla.harness.results.identity import EpisodeId
>>> ident = EpisodeId.field_names()
>>> [n for n in EPISODE_SCHEMA.names if n in ident] == list(ident)
True
>>> sorted(NULLABLE_EPISODE_FIELDS)[:2]
['disturbance', 'disturbance_step']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypedDict

import pyarrow as pa

SCHEMA_VERSION = 4
"""2: episode records gained ``peak_risk``; 3: steps gained ``state`` and ``environment_state``;
4: episode records gained the obstacle and disturbance fields."""

TERMINATION_REASONS = (
    "success",
    "timeout",
    "collision",
    "object_dropped",
    "physics_error",
    "stopped",
    "crash",
)
"""Why an episode ended. ``success`` iff the task's success predicate held."""

ACTION_DIM = 7


_MISSING: Any = object()


@dataclass(frozen=True)
class Field:
    """One column of the episode table."""

    name: str
    arrow: pa.DataType
    py: Any
    nullable: bool = False
    default: Any = _MISSING
    """Value filled in when a record leaves the field out."""
    filled_by_store: bool = False


EPISODE_FIELDS: tuple[Field, ...] = (
    Field("schema_version", pa.int32(), int, filled_by_store=True),
    Field("run_id", pa.string(), str, filled_by_store=True),
    Field("episode_key", pa.string(), str, filled_by_store=True),
    Field("policy", pa.string(), str),
    Field("intervention", pa.string(), str),  # "none" for the base policy
    Field("suite", pa.string(), str),
    Field("task", pa.string(), str),
    Field("task_index", pa.int32(), int),
    Field("init_state", pa.int32(), int),
    Field("seed", pa.int64(), int),
    Field("repeat", pa.int32(), int, default=0),  # rerun index of the same (task, init_state, seed)
    Field("perturbation", pa.string(), str, default="none"),  # env perturbation label; "none": clean
    Field("perturbation_level", pa.int32(), int, default=0),  # its severity 1..5; 0: clean
    Field("episode_index", pa.int64(), int),  # order in which the runner scheduled the episode
    Field("success", pa.bool_(), bool),
    Field("collided", pa.bool_(), bool),  # n_collision_onsets >= 1
    Field("n_collision_onsets", pa.int32(), int),
    Field("first_collision_step", pa.int32(), int, nullable=True),
    Field("max_collision_force", pa.float64(), float, nullable=True),  # None: no force reported
    Field("termination_reason", pa.string(), str),
    Field("steps", pa.int32(), int),
    Field("max_steps", pa.int32(), int),
    Field("wall_time_s", pa.float64(), float),
    Field("n_interventions", pa.int32(), int),  # intervention onsets (inactive -> active)
    Field("intervention_steps", pa.int32(), int, default=0),  # steps with the intervention active
    Field("first_intervention_step", pa.int32(), int, nullable=True),
    Field("error", pa.string(), str, nullable=True, default=None),
    Field("env_kwargs", pa.string(), str),  # canonical JSON
    Field("perturbation_params", pa.string(), str, nullable=True, default=None),  # sampled values, JSON
    Field("peak_risk", pa.float64(), float, nullable=True, default=None),  # max per-step risk; None: none ran
    Field("obstacle_collided", pa.bool_(), bool, nullable=True, default=None),  # None: no obstacles inserted
    Field("first_obstacle_step", pa.int32(), int, nullable=True, default=None),
    Field("max_obstacle_displacement_m", pa.float64(), float, nullable=True, default=None),
    Field("disturbance_step", pa.int32(), int, nullable=True, default=None),  # None: no disturbance fired
    Field("disturbance", pa.string(), str, nullable=True, default=None),  # what fired, JSON
    Field("hidden_layers", pa.list_(pa.string()), list[str], default=()),
    Field("video_path", pa.string(), str, nullable=True, default=None),
    Field("started_utc", pa.string(), str, default=""),
)
"""The episode table's columns, in order. Reproducibility fields: suite, task, task_index, init_state, seed, env_kwargs."""

EPISODE_SCHEMA = pa.schema(
    [(f.name, f.arrow) for f in EPISODE_FIELDS], metadata={"mistvla_schema_version": str(SCHEMA_VERSION)}
)
EpisodeRecord = TypedDict(
    "EpisodeRecord", {f.name: (f.py | None if f.nullable else f.py) for f in EPISODE_FIELDS}
)
"""One episode record, as the runner produces and the store writes it."""

NULLABLE_EPISODE_FIELDS = frozenset(f.name for f in EPISODE_FIELDS if f.nullable)
FILLED_BY_STORE = frozenset(f.name for f in EPISODE_FIELDS if f.filled_by_store)
DEFAULTED_EPISODE_FIELDS: dict[str, Any] = {
    f.name: (list(f.default) if isinstance(f.default, tuple) else f.default)
    for f in EPISODE_FIELDS
    if f.default is not _MISSING
}

STEP_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("episode_key", pa.string()),
        ("step", pa.int32()),
        ("raw_action", pa.list_(pa.float32(), ACTION_DIM)),  # what the policy proposed
        ("executed_action", pa.list_(pa.float32(), ACTION_DIM)),  # what was sent to the env
        ("intervention_active", pa.bool_()),
        ("risk_score", pa.float32()),  # scalar gate score; null when no risk model ran
        ("risk_per_dim", pa.list_(pa.float32())),  # per-action-dimension risk, if any
        ("n_collision_events", pa.int32()),  # collision onsets at this step
        ("collision_force", pa.float32()),
        ("eef_pos", pa.list_(pa.float32(), 3)),
        ("eef_quat", pa.list_(pa.float32(), 4)),
        ("state", pa.list_(pa.float32(), 8)),  # observation.state layout (harness.envs.vectors.STATE_NAMES)
        ("environment_state", pa.list_(pa.float32())),  # privileged poses of the suite's objects; null: none
    ],
    metadata={"mistvla_schema_version": str(SCHEMA_VERSION)},
)
REQUIRED_STEP_COLUMNS = (
    "raw_action",
    "executed_action",
    "intervention_active",
    "n_collision_events",
    "eef_pos",
)
