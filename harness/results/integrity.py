"""Checking that a complete episode's files read back, and moving damaged ones aside.

An episode counts as complete once ``episodes/<key>.parquet`` exists, but a
disk that filled up or a copy cut short can leave that file (or its steps
table, or a hidden shard) truncated. :func:`episode_problem` reads each file
back (the record, the steps table's row count against the record, each
shard's header against its size); :func:`move_aside` moves every file of a
damaged episode to ``damaged/<stamp>/`` (nothing is deleted), so a resumed
run reruns it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from mistvla.harness.results.schema import EPISODE_SCHEMA


def episode_problem(run_dir: Path, key: str) -> str | None:
    """What is wrong with the files of complete episode ``key`` (the first problem), or None."""
    ep = run_dir / "episodes" / f"{key}.parquet"
    try:
        rows = pq.read_table(ep, schema=EPISODE_SCHEMA).to_pylist()
    except Exception as err:
        return f"{ep.relative_to(run_dir)} does not read back ({type(err).__name__}: {err})"
    if len(rows) != 1:
        return f"{ep.relative_to(run_dir)} holds {len(rows)} records, not 1"
    rec = rows[0]
    st = run_dir / "steps" / f"{key}.parquet"
    if st.exists():
        try:
            n = pq.read_metadata(st).num_rows
            pq.read_table(st)
        except Exception as err:
            return f"{st.relative_to(run_dir)} does not read back ({type(err).__name__}: {err})"
        if n != rec["steps"]:
            return f"{st.relative_to(run_dir)} has {n} rows, its episode record says {rec['steps']} steps"
    for layer in rec["hidden_layers"] or []:
        shard = run_dir / "hidden" / key / f"{layer}.npy"
        try:
            np.load(shard, mmap_mode="r")
        except Exception as err:
            return f"{shard.relative_to(run_dir)} does not read back ({type(err).__name__}: {err})"
    return None


def move_aside(run_dir: Path, key: str, stamp: str | None = None) -> Path:
    """Move every file of episode ``key`` into ``damaged/<stamp>/`` (same sub-paths); return that folder."""
    stamp = stamp or datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    dest = run_dir / "damaged" / stamp
    for rel in (Path("episodes") / f"{key}.parquet", Path("steps") / f"{key}.parquet", Path("hidden") / key):
        src = run_dir / rel
        if src.exists():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            src.rename(dest / rel)
    return dest
