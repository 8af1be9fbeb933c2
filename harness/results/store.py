"""Resumable, crash-safe store of one run's results, and DuckDB queries across runs.

Layout of a run directory (see ``docs/results_format.md``)::

    manifest.json            config, git, package versions, seeds, specs, schema version
    sessions.jsonl           one line per (re)open: time, pid, git commit
    episodes/<key>.parquet   one row: the episode record (written last: the commit marker)
    steps/<key>.parquet      one row per step
    hidden/<key>/<layer>.npy float16 hidden states, memory-mappable
    videos/                  for the runner's videos

Every file is written to a temp name in its final directory, fsynced, and
moved into place with ``os.replace``, so a reader never sees half a file. An
episode counts as complete only once its ``episodes/<key>.parquet`` exists,
and that is written after its steps and hidden shards. A run killed at any
moment (SIGKILL included) and reopened with the same config therefore reports
exactly the finished episodes in :meth:`ResultsStore.completed_keys`; leftover
temp files and the steps/shards of the unfinished episode are removed on open.
One writer per run directory is enforced with an ``flock`` that the kernel
releases when the process dies.

>>> import tempfile
>>> run = tempfile.mkdtemp()
>>> store = ResultsStore.open(run, {"suite": "libero_spatial", "seeds": [0]})
>>> sorted(store.completed_keys())
[]
>>> store.close()
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from mistvla.harness.errors import ConfigMismatchError, DuplicateEpisodeError, RunLockedError
from mistvla.harness.results.atomic import TMP_MARK, atomic_write, save_npy_atomic, write_json_atomic
from mistvla.harness.results.identity import EpisodeId
from mistvla.harness.results.manifest import (
    MANIFEST_NAME,
    build_manifest,
    config_diff,
    flatten,
    git_info,
    normalize_config,
    read_manifest,
)
from mistvla.harness.results.schema import EPISODE_SCHEMA, SCHEMA_VERSION, STEP_SCHEMA
from mistvla.harness.results.validation import steps_table, validate_episode

_LAYER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def to_float16(array: Any, name: str = "hidden") -> np.ndarray:
    """Cast to float16, refusing values that would overflow to ±inf (|x| > 65504)."""
    arr = np.asarray(array)
    if not np.issubdtype(arr.dtype, np.floating):
        raise TypeError(f"hidden state {name!r} must be floating point, got {arr.dtype}")
    with np.errstate(over="ignore"):
        half = arr.astype(np.float16)
    if not np.array_equal(np.isfinite(half), np.isfinite(arr)):
        raise ValueError(f"hidden state {name!r} has values outside the float16 range (|x| > 65504)")
    return half


class ResultsStore:
    """One run directory. Create or resume with :meth:`open`; read-only with :meth:`read`."""

    def __init__(self, run_dir: Path, manifest: dict[str, Any], lock_fd: int | None, durable: bool = True):
        self.run_dir = run_dir
        self.manifest = manifest
        self.run_id: str = manifest["run_id"]
        self._lock_fd = lock_fd
        self._durable = durable
        self._completed = {p.stem for p in self._episode_dir.glob("*.parquet")}
        self.damaged: list[tuple[str, str]] = []
        """(episode key, problem) of episodes found damaged: moved aside on open, skipped on read."""

    # ----- opening -------------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        run_dir: str | os.PathLike[str],
        config: Mapping[str, Any],
        run_id: str | None = None,
        strict_code: bool = False,
        durable: bool = True,
    ) -> ResultsStore:
        """Create ``run_dir`` for ``config``, or resume it if it was made with an equal config.

        Refuses (:class:`ConfigMismatchError`) when the manifest's config differs,
        naming the differing keys; with ``strict_code`` also when the git commit
        differs (otherwise a changed commit or dirty tree only warns).
        """
        root = Path(run_dir)
        root.mkdir(parents=True, exist_ok=True)
        lock_fd = cls._lock(root)
        try:
            manifest = cls._open_manifest(root, config, run_id, strict_code)
            for sub in ("episodes", "steps", "hidden", "videos"):
                (root / sub).mkdir(exist_ok=True)
            store = cls(root, manifest, lock_fd, durable)
            store._set_aside_damaged()
            store._remove_leftovers()
            store._log_session()
        except BaseException:
            os.close(lock_fd)
            raise
        return store

    @classmethod
    def read(cls, run_dir: str | os.PathLike[str]) -> ResultsStore:
        """Open an existing run for reading only (no lock, nothing changed on disk)."""
        root = Path(run_dir)
        return cls(root, read_manifest(root), None)

    @staticmethod
    def _lock(root: Path) -> int:
        fd = os.open(root / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise RunLockedError(f"{root} is open for writing by another process") from None
        return fd

    @staticmethod
    def _open_manifest(
        root: Path, config: Mapping[str, Any], run_id: str | None, strict_code: bool
    ) -> dict[str, Any]:
        if not (root / MANIFEST_NAME).exists():
            if any((root / "episodes").glob("*.parquet")):
                raise ConfigMismatchError(
                    f"{root} holds episodes but no {MANIFEST_NAME}; refusing to adopt it"
                )
            manifest = build_manifest(config, run_id or root.name)
            write_json_atomic(root / MANIFEST_NAME, manifest)
            return manifest
        manifest = read_manifest(root)
        if manifest.get("schema_version") != SCHEMA_VERSION:
            raise ConfigMismatchError(
                f"{root} was written with results schema {manifest.get('schema_version')}, "
                f"this code writes schema {SCHEMA_VERSION}; use a new run directory"
            )
        if run_id is not None and run_id != manifest["run_id"]:
            raise ConfigMismatchError(f"{root} has run_id {manifest['run_id']!r}, asked for {run_id!r}")
        diff = config_diff(manifest["config"], config)
        if diff:
            old, new = flatten(manifest["config"]), flatten(normalize_config(config))
            lines = [f"  {k}: {old.get(k, '<absent>')!r} -> {new.get(k, '<absent>')!r}" for k in diff[:20]]
            more = f"\n  ... and {len(diff) - 20} more" if len(diff) > 20 else ""
            raise ConfigMismatchError(
                f"refusing to resume {root}: config differs from its manifest in {len(diff)} key(s) "
                f"{diff[:20]}:\n" + "\n".join(lines) + more + "\nUse a new run directory for a new config."
            )
        git = git_info()
        old_commit = manifest.get("git", {}).get("commit")
        if git["commit"] != old_commit or git["dirty"]:
            msg = f"resuming {root}: code commit {git['commit']} (dirty={git['dirty']}), run started at {old_commit}"
            if strict_code and git["commit"] != old_commit:
                raise ConfigMismatchError(msg)
            warnings.warn(msg, stacklevel=3)
        return manifest

    def _set_aside_damaged(self) -> None:
        """Move the files of complete episodes that do not read back to ``damaged/`` (they will rerun)."""
        from mistvla.harness.results.integrity import episode_problem, move_aside

        for key in sorted(self._completed):
            problem = episode_problem(self.run_dir, key)
            if problem is not None:
                move_aside(self.run_dir, key)
                self._completed.discard(key)
                self.damaged.append((key, problem))

    def _remove_leftovers(self) -> None:
        """Delete temp files and the steps/shards of episodes that never committed."""
        for sub in ("episodes", "steps", "hidden"):
            for path in (self.run_dir / sub).rglob(f"*{TMP_MARK}*"):
                path.unlink(missing_ok=True)
        for path in (self.run_dir / "steps").glob("*.parquet"):
            if path.stem not in self._completed:
                path.unlink()
        for path in (self.run_dir / "hidden").iterdir():
            if path.is_dir() and path.name not in self._completed:
                for shard in path.iterdir():
                    shard.unlink()
                path.rmdir()

    def _log_session(self) -> None:
        git = git_info()
        line = {
            "opened_utc": datetime.now(UTC).isoformat(timespec="seconds"),
            "pid": os.getpid(),
            "git_commit": git["commit"],
            "git_dirty": git["dirty"],
            "completed_at_open": len(self._completed),
        }
        with open(self.run_dir / "sessions.jsonl", "a") as fh:
            fh.write(json.dumps(line) + "\n")

    def close(self) -> None:
        """Release the writer lock (also released automatically if the process dies)."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> ResultsStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----- paths ---------------------------------------------------------------------------
    @property
    def _episode_dir(self) -> Path:
        return self.run_dir / "episodes"

    def episode_path(self, key: str) -> Path:
        """Path of the episode record file of ``key``."""
        return self._episode_dir / f"{key}.parquet"

    def steps_path(self, key: str) -> Path:
        """Path of the steps table file of ``key``."""
        return self.run_dir / "steps" / f"{key}.parquet"

    def hidden_path(self, key: str, layer: str) -> Path:
        """Path of the float16 hidden-state shard of ``key`` for ``layer``."""
        return self.run_dir / "hidden" / key / f"{layer}.npy"

    def video_path(self, key: str, ext: str = "mp4") -> Path:
        """Where the runner should put the video of ``key``."""
        return self.run_dir / "videos" / f"{key}.{ext}"

    # ----- writing -------------------------------------------------------------------------
    def completed_keys(self) -> frozenset[str]:
        """Keys of the episodes already complete in this run."""
        return frozenset(self._completed)

    def write_episode(
        self,
        record: Mapping[str, Any],
        steps: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None,
        hidden: Mapping[str, Any] | np.ndarray | None = None,
    ) -> str:
        """Validate and store one finished episode; returns its key.

        ``steps`` are the per-step columns (see :func:`steps_table`) or ``None``
        to store no steps; ``hidden`` maps layer names to arrays (a bare array is
        stored as layer ``"hidden"``), saved as float16. Raises
        :class:`DuplicateEpisodeError` if the key is already complete.
        """
        if self._lock_fd is None:
            raise RuntimeError("store is read-only or closed; use ResultsStore.open to write")
        rec = validate_episode(record)
        key = EpisodeId.from_record(rec).key
        if rec.get("episode_key", key) != key:
            raise ValueError(f"record episode_key {rec['episode_key']!r} != key of its fields {key!r}")
        if rec.get("run_id", self.run_id) != self.run_id:
            raise ValueError(f"record run_id {rec['run_id']!r} != store run_id {self.run_id!r}")
        if key in self._completed:
            raise DuplicateEpisodeError(f"episode {key} is already complete in {self.run_dir}")
        rec.update(schema_version=SCHEMA_VERSION, run_id=self.run_id, episode_key=key)
        layers = self._prepare_hidden(hidden)
        rec["hidden_layers"] = sorted(layers)
        table = None if steps is None else steps_table(steps, rec["steps"], self.run_id, key)
        for layer, arr in layers.items():
            path = self.hidden_path(key, layer)
            path.parent.mkdir(exist_ok=True)
            save_npy_atomic(path, arr, self._durable)
        if table is not None:
            atomic_write(self.steps_path(key), lambda tmp: pq.write_table(table, tmp), self._durable)
        ep = pa.Table.from_pylist([rec], schema=EPISODE_SCHEMA)
        atomic_write(self.episode_path(key), lambda tmp: pq.write_table(ep, tmp), self._durable)
        self._completed.add(key)
        return key

    @staticmethod
    def _prepare_hidden(hidden: Mapping[str, Any] | np.ndarray | None) -> dict[str, np.ndarray]:
        if hidden is None:
            return {}
        if not isinstance(hidden, Mapping):
            hidden = {"hidden": hidden}
        out = {}
        for layer, arr in hidden.items():
            if not _LAYER_RE.match(layer) or TMP_MARK in layer:
                raise ValueError(f"hidden layer name {layer!r} must match {_LAYER_RE.pattern}")
            out[layer] = to_float16(arr, layer)
        return out

    # ----- reading -------------------------------------------------------------------------
    def episodes(self) -> pa.Table:
        """All complete episode records, ordered by ``episode_index`` (``.to_pandas()`` for a DataFrame)."""
        files = [self.episode_path(k) for k in sorted(self._completed)]
        table = _read_many(files, EPISODE_SCHEMA, self.damaged)
        return table.sort_by([("episode_index", "ascending"), ("episode_key", "ascending")])

    def steps(self, keys: Iterable[str] | None = None) -> pa.Table:
        """Steps of complete episodes (all, or those in ``keys``), ordered by episode then step."""
        wanted = sorted(self._completed if keys is None else set(keys) & self._completed)
        files = [p for p in (self.steps_path(k) for k in wanted) if p.exists()]
        return _read_many(files, STEP_SCHEMA, self.damaged).sort_by(
            [("episode_key", "ascending"), ("step", "ascending")]
        )

    def hidden(self, key: str, layer: str = "hidden", mmap: bool = True) -> np.ndarray:
        """A hidden-state shard, memory-mapped read-only by default."""
        if key not in self._completed:
            raise KeyError(f"episode {key} is not complete in {self.run_dir}")
        return np.load(self.hidden_path(key, layer), mmap_mode="r" if mmap else None)


def _read_many(files: Sequence[Path], schema: pa.Schema, damaged: list[tuple[str, str]]) -> pa.Table:
    """Concatenate Parquet files; a file that does not read back is skipped and named in ``damaged``."""
    tables = []
    for f in files:
        try:
            tables.append(pq.read_table(f, schema=schema))
        except Exception as err:
            problem = (f.stem, f"{f.parent.name}/{f.name} does not read back ({type(err).__name__})")
            if problem not in damaged:
                damaged.append(problem)
    return pa.concat_tables(tables) if tables else schema.empty_table()
