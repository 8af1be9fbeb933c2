"""DuckDB queries across the committed Parquet files of one or more runs.

>>> import tempfile
>>> from mistvla.harness.results.store import ResultsStore
>>> run = tempfile.mkdtemp()
>>> ResultsStore.open(run, {"suite": "libero_spatial"}).close()
>>> query(run, "SELECT count(*) AS n FROM episodes").column("n")[0].as_py()
0
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa

from mistvla.harness.results.manifest import read_manifest
from mistvla.harness.results.schema import EPISODE_SCHEMA, STEP_SCHEMA


def _committed_files(run_dirs: Sequence[str | os.PathLike[str]]) -> tuple[list[str], list[str]]:
    episodes: list[str] = []
    steps: list[str] = []
    for run_dir in run_dirs:
        root = Path(run_dir)
        for ep in sorted((root / "episodes").glob("*.parquet")):
            episodes.append(str(ep))
            st = root / "steps" / ep.name
            if st.exists():
                steps.append(str(st))
    return episodes, steps


def query(run_dirs: Sequence[str | os.PathLike[str]] | str | os.PathLike[str], sql: str) -> pa.Table:
    """Run DuckDB ``sql`` over the committed Parquet files of one or more runs.

    Views: ``episodes`` (all episode records), ``steps`` (all step rows) and
    ``runs`` (run_id, run_dir, config_hash, git_commit, git_dirty, created_utc,
    config_json). Only committed episodes are visible. Example::

        query(["runs/a", "runs/b"], '''
            SELECT run_id, intervention, avg(success::INT) AS sr, count(*) AS n
            FROM episodes GROUP BY ALL ORDER BY ALL''')
    """
    import duckdb

    dirs = [run_dirs] if isinstance(run_dirs, (str, os.PathLike)) else list(run_dirs)
    ep_files, step_files = _committed_files(dirs)
    con = duckdb.connect()
    try:
        for name, files, schema in (
            ("episodes", ep_files, EPISODE_SCHEMA),
            ("steps", step_files, STEP_SCHEMA),
        ):
            if files:
                listing = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
                con.execute(
                    f"CREATE VIEW {name} AS SELECT * FROM read_parquet([{listing}], union_by_name=true)"
                )
            else:
                con.register(name, schema.empty_table())
        con.register("runs", _runs_table(dirs))
        rel = con.sql(sql)
        return rel.to_arrow_table() if hasattr(rel, "to_arrow_table") else rel.arrow()
    finally:
        con.close()


def _runs_table(run_dirs: Sequence[str | os.PathLike[str]]) -> pa.Table:
    rows = []
    for run_dir in run_dirs:
        m = read_manifest(run_dir)
        rows.append(
            {
                "run_id": m["run_id"],
                "run_dir": str(run_dir),
                "config_hash": m.get("config_hash"),
                "git_commit": m.get("git", {}).get("commit"),
                "git_dirty": m.get("git", {}).get("dirty"),
                "created_utc": m.get("created_utc"),
                "config_json": json.dumps(m.get("config"), sort_keys=True),
            }
        )
    schema = pa.schema(
        [
            ("run_id", pa.string()),
            ("run_dir", pa.string()),
            ("config_hash", pa.string()),
            ("git_commit", pa.string()),
            ("git_dirty", pa.bool_()),
            ("created_utc", pa.string()),
            ("config_json", pa.string()),
        ]
    )
    return pa.Table.from_pylist(rows, schema=schema)
