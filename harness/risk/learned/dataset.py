"""A risk-predictor dataset over stored runs: a step index and labels; hidden states stay memory-mapped.

:func:`build_dataset` reads the episode and step records of one or more run
directories, labels every step (:mod:`.labels`), validates the labels
(:mod:`.validation`) and writes a small dataset directory::

    meta.json        point, position, label spec, runs, models (hidden size, rows), validation
    index.parquet    one row per step: run, episode, model, task, step, outcome, proprio, actions, risk
    labels.npy       (rows, horizons, types) int8 (-1: masked)
    dims.npy         (rows, 7) int8 per-dimension labels (-1: no collision ahead)
    validation.txt   the label validation table

The hidden states are *not* copied: :class:`RiskDataset` maps each episode's
float16 shard (``hidden/<key>/<point>__<position>.npy``) read-only when a
batch needs it (an LRU of open maps), so memory stays far below the data size.
Several policies (different hidden sizes) can share a dataset; each row is
tagged with its model.
"""

from __future__ import annotations

import functools
import json
import mmap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from mistvla.harness.errors import ConfigError, StoreError
from mistvla.harness.results.atomic import save_npy_atomic, write_json_atomic
from mistvla.harness.results.store import ResultsStore
from mistvla.harness.risk.learned.labels import LabelSpec, label_episode

INDEX_COLUMNS = ("eef_pos", "eef_quat", "raw_action", "executed_action")


def feature_name(point: str, position: str) -> str:
    """The shard name the runner stores a hook point's hidden state under.

    >>> feature_name("llm.blocks.3.resid_post", "last_prompt")
    'llm.blocks.3.resid_post__last_prompt'
    """
    return f"{point}__{position}".replace("/", "__")


def _run_risk_source(store: ResultsStore) -> str | None:
    risk = (store.manifest.get("config") or {}).get("risk") or {}
    return risk.get("source") if isinstance(risk, dict) else None


def _policy_id(store: ResultsStore, policy: str) -> str:
    """The policy and its checkpoint's directory name (``reference:libero_spatial``): two checkpoints of one
    policy class are two policies for ``split.by=policy``."""
    params = ((store.manifest.get("config") or {}).get("policy") or {}).get("params") or {}
    ckpt = params.get("checkpoint") if isinstance(params, dict) else None
    return f"{policy}:{Path(str(ckpt)).name}" if ckpt else policy


def _episode_rows(store: ResultsStore, feature: str, spec: LabelSpec, run_index: int):
    """Yield (index columns, y, dims, shard shape) per episode of ``store`` that has the feature."""
    episodes = store.episodes().to_pylist()
    oracle = _run_risk_source(store) == "oracle"
    for rec in episodes:
        key = rec["episode_key"]
        if feature not in rec["hidden_layers"]:
            continue
        # one episode's steps at a time (as Python lists): memory does not grow with the run
        cols = store.steps([key]).select([*INDEX_COLUMNS, "n_collision_events", "risk_score", "step"])
        cols = cols.to_pydict()
        n = len(cols["step"])
        shard = store.hidden_path(key, feature)
        shape = np.load(shard, mmap_mode="r").shape
        if shape[0] != n:
            raise StoreError(f"{shard}: {shape[0]} hidden rows for {n} step rows")
        labels = label_episode(rec, cols, spec)
        clean = bool(rec["success"]) and int(rec["n_collision_onsets"]) == 0
        perturbation = rec.get("perturbation") or "none"
        condition = (
            "clean" if perturbation == "none" else f"{perturbation} L{rec.get('perturbation_level', 0)}"
        )
        index = {
            "run": [run_index] * n,
            "episode_key": [key] * n,
            "policy": [rec["policy"]] * n,
            "policy_id": [_policy_id(store, rec["policy"])] * n,
            "suite": [rec.get("suite", "")] * n,
            "intervention": [rec["intervention"]] * n,
            "task": [rec["task"]] * n,
            "task_index": [rec["task_index"]] * n,
            "init_state": [rec["init_state"]] * n,
            "step": cols["step"],
            "row": list(range(n)),
            "n_rows": [n] * n,
            "max_steps": [rec["max_steps"]] * n,
            "success": [bool(rec["success"])] * n,
            "clean": [clean] * n,
            "condition": [condition] * n,
            "perturbed": [perturbation != "none"] * n,
            "collided": [int(rec["n_collision_onsets"]) > 0] * n,
            "termination_reason": [rec["termination_reason"]] * n,
            "first_event_row": [min(labels.events["any"], default=-1)] * n,
            "oracle_risk": [r if oracle else None for r in cols["risk_score"]],
            **{c: cols[c] for c in INDEX_COLUMNS},
        }
        yield index, labels.y, labels.dims, shape


def build_dataset(
    run_dirs: Sequence[str | Path],
    point: str,
    position: str,
    out_dir: str | Path,
    spec: LabelSpec | None = None,
) -> RiskDataset:
    """Index, label and validate the steps of ``run_dirs`` at one hook point and position into ``out_dir``."""
    from mistvla.harness.risk.learned.validation import validate_labels

    spec = spec or LabelSpec()
    feature = feature_name(point, position)
    parts: list[pa.Table] = []
    ys, dims = [], []
    models: dict[str, dict[str, int]] = {}
    for i, run_dir in enumerate(run_dirs):
        store = ResultsStore.read(run_dir)
        for index, y, d, shape in _episode_rows(store, feature, spec, i):
            model = index["policy"][0]
            info = models.setdefault(model, {"hidden_size": int(shape[-1]), "rows": 0, "episodes": 0})
            if info["hidden_size"] != shape[-1]:
                raise ConfigError(
                    f"runs: policy {model!r} has hidden sizes {info['hidden_size']} and {shape[-1]}; "
                    "put each in its own dataset"
                )
            info["rows"] += len(y)
            info["episodes"] += 1
            index["model"] = [model] * len(y)
            parts.append(pa.Table.from_pydict(index))
            ys.append(y)
            dims.append(d)
    if not parts:
        raise ConfigError(
            f"point/position: no episode in {list(map(str, run_dirs))} stored hidden states {feature!r}"
        )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    table = pa.concat_tables(parts)
    y_all = np.concatenate(ys)
    report = validate_labels(table, y_all, spec)
    pq.write_table(table, out / "index.parquet")
    save_npy_atomic(out / "labels.npy", y_all)
    save_npy_atomic(out / "dims.npy", np.concatenate(dims))
    (out / "validation.txt").write_text(report.table() + "\n")
    meta = {
        "point": point,
        "position": position,
        "feature": feature,
        "labels": spec.to_dict(),
        "runs": [str(Path(r).resolve()) for r in run_dirs],
        "models": models,
        "n_rows": len(y_all),
        "validation": report.to_dict(),
    }
    write_json_atomic(out / "meta.json", meta)
    return RiskDataset(out)


def _release(arr: np.ndarray) -> None:
    """Drop a read-only map's pages from this process (they stay in the page cache; the next read faults
    them back in), so the resident set holds the batch being read, not every shard page touched so far."""
    m = getattr(arr, "_mmap", None)
    if m is not None and hasattr(mmap, "MADV_DONTNEED"):
        m.madvise(mmap.MADV_DONTNEED)


@dataclass
class RiskDataset:
    """A built dataset directory; hidden states are read on demand through memory maps."""

    root: Path

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        if not (self.root / "meta.json").exists():
            raise StoreError(
                f"{self.root}: not a risk dataset (no meta.json); build one with 'mistvla risk dataset'"
            )
        self.meta: dict[str, Any] = json.loads((self.root / "meta.json").read_text())
        # the per-step vectors (INDEX_COLUMNS) are read when asked for: only the baselines need them
        path = self.root / "index.parquet"
        names = pq.read_schema(path).names
        self.index = pq.read_table(path, columns=[c for c in names if c not in INDEX_COLUMNS])
        self._lazy = [c for c in names if c in INDEX_COLUMNS]
        self.y = np.load(self.root / "labels.npy")
        self.dims = np.load(self.root / "dims.npy")
        self.spec = LabelSpec(**self.meta["labels"])
        self._run = np.asarray(self.index["run"])
        keys = pc.dictionary_encode(self.index["episode_key"].combine_chunks())
        self._key_names: list[str] = keys.dictionary.to_pylist()
        self._key_code = np.asarray(keys.indices)  # per row: index into _key_names
        self._row = np.asarray(self.index["row"])
        self._load = functools.lru_cache(maxsize=256)(self._open)
        self._headers: dict[Path, tuple[np.dtype, tuple[int, ...], int]] = {}
        pa.default_memory_pool().release_unused()  # the parquet decoding buffers

    def __len__(self) -> int:
        return int(self.meta["n_rows"])

    def column(self, name: str) -> np.ndarray:
        if name in self._lazy:
            col = pq.read_table(self.root / "index.parquet", columns=[name])[name]
        else:
            col = self.index[name]
        if pa.types.is_fixed_size_list(col.type) or pa.types.is_list(col.type):
            return np.asarray(col.to_pylist(), dtype=np.float32)
        return np.asarray(col.to_pylist() if col.null_count else col)

    def hidden_size(self, model: str) -> int:
        return int(self.meta["models"][model]["hidden_size"])

    def _open(self, run: int, key: str) -> np.ndarray:
        path = Path(self.meta["runs"][run]) / "hidden" / key / f"{self.meta['feature']}.npy"
        header = self._headers.get(path)
        if header is not None:  # reopened after an LRU eviction: skip parsing the .npy header again
            return np.memmap(path, dtype=header[0], mode="r", offset=header[2], shape=header[1])
        arr = np.load(path, mmap_mode="r")
        if arr.flags.c_contiguous:
            self._headers[path] = (arr.dtype, arr.shape, arr.offset)
        return arr

    def features(self, rows: np.ndarray) -> np.ndarray:
        """float32 hidden states of dataset ``rows`` (all of one model), read through the memory maps."""
        rows = np.asarray(rows)
        order = np.argsort(rows, kind="stable")
        srt = rows[order]
        run, code = self._run[srt], self._key_code[srt]
        cuts = np.flatnonzero((run[1:] != run[:-1]) | (code[1:] != code[:-1])) + 1
        out = None
        for start, end in zip([0, *cuts.tolist()], [*cuts.tolist(), len(srt)], strict=True):
            if start == end:
                continue
            arr = self._load(int(run[start]), self._key_names[code[start]])
            if out is None:
                out = np.empty((len(rows), arr.shape[-1]), dtype=np.float32)
            out[order[start:end]] = arr[self._row[srt[start:end]]]
            _release(arr)
        return out if out is not None else np.empty((0, 0), dtype=np.float32)
