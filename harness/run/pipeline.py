"""A chain of ``mistvla`` commands from one file (``mistvla pipeline FILE``), resumable.

The file lists steps in order; a step is one ``mistvla`` command line (``run:``) and
the paths it makes (``creates:``), or ``parallel:`` a list of such steps started at
once as separate processes (one per core: two demonstration halves). A step whose
``creates`` all exist is skipped, so an interrupted chain picks up where it stopped
(the commands themselves resume too); ``from_scratch`` deletes a step's ``creates``
before running it, so every artifact is made again by this checkout's code.

>>> p = parse_pipeline({"name": "x", "steps": [
...     {"run": "demos a.yaml", "creates": ["runs/a"]},
...     {"parallel": [{"run": "demos b.yaml", "creates": ["runs/b"]}, {"run": "demos c.yaml"}]}]})
>>> [[s.argv for s in g] for g in p.groups]
[[['demos', 'a.yaml']], [['demos', 'b.yaml'], ['demos', 'c.yaml']]]
>>> parse_pipeline({"name": "x", "steps": [{"run": "demos a.yaml", "make": []}]})
Traceback (most recent call last):
...
mistvla.harness.errors.ConfigError: steps[0]: unknown keys ['make'] (known: creates, run)
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mistvla.harness.errors import ConfigError


@dataclass(frozen=True)
class Step:
    """One ``mistvla`` command and the paths it makes."""

    argv: list[str]
    creates: tuple[str, ...] = ()

    @property
    def done(self) -> bool:
        return bool(self.creates) and all(Path(p).exists() for p in self.creates)

    def __str__(self) -> str:
        return "mistvla " + shlex.join(self.argv)


@dataclass(frozen=True)
class Pipeline:
    name: str
    groups: list[list[Step]]
    """Run in order; the steps of one group run at once."""


def _step(raw: Any, where: str) -> Step:
    if not isinstance(raw, dict) or "run" not in raw:
        raise ConfigError(f"{where}: expected a mapping with 'run' (a mistvla command line)")
    unknown = sorted(set(raw) - {"run", "creates"})
    if unknown:
        raise ConfigError(f"{where}: unknown keys {unknown} (known: creates, run)")
    argv = shlex.split(str(raw["run"]))
    if argv and argv[0] == "mistvla":
        argv = argv[1:]
    if not argv:
        raise ConfigError(f"{where}.run: empty command")
    creates = raw.get("creates", [])
    creates = [creates] if isinstance(creates, str) else list(creates)
    return Step(argv, tuple(str(c) for c in creates))


def parse_pipeline(data: dict[str, Any]) -> Pipeline:
    """Check and build a :class:`Pipeline` from the file's mapping."""
    steps = data.get("steps")
    if not isinstance(steps, list) or not steps:
        raise ConfigError("steps: expected a non-empty list")
    unknown = sorted(set(data) - {"name", "steps"})
    if unknown:
        raise ConfigError(f"unknown keys {unknown} (known: name, steps)")
    groups = []
    for i, raw in enumerate(steps):
        if isinstance(raw, dict) and "parallel" in raw:
            group = [_step(s, f"steps[{i}].parallel[{j}]") for j, s in enumerate(raw["parallel"])]
        else:
            group = [_step(raw, f"steps[{i}]")]
        groups.append(group)
    return Pipeline(str(data.get("name", "pipeline")), groups)


def load_pipeline(path: str | Path) -> Pipeline:
    import yaml

    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"pipeline file {str(p)!r} does not exist")
    return parse_pipeline(yaml.safe_load(p.read_text()) or {})


def run_pipeline(
    pipe: Pipeline,
    from_scratch: bool = False,
    dry_run: bool = False,
    log: Callable[[str], None] = lambda s: print(s, file=sys.stderr),
    runner: Callable[[Sequence[list[str]]], list[int]] | None = None,
) -> int:
    """Run every group in order; returns 0, or the first failing step's exit status."""
    runner = runner or _subprocesses
    n = len(pipe.groups)
    for i, group in enumerate(pipe.groups, 1):
        todo = []
        for step in group:
            if step.done and not from_scratch:
                log(f"[{i}/{n}] skip (exists: {', '.join(step.creates)}): {step}")
                continue
            log(f"[{i}/{n}] {'would run' if dry_run else 'run'}: {step}")
            todo.append(step)
        if dry_run or not todo:
            continue
        if from_scratch:
            for path in (Path(p) for s in todo for p in s.creates):
                if path.is_dir():
                    shutil.rmtree(path)
                elif path.exists():
                    path.unlink()
        t0 = time.perf_counter()
        codes = runner([s.argv for s in todo])
        for step, code in zip(todo, codes, strict=True):
            if code != 0:
                log(f"[{i}/{n}] failed with exit status {code}: {step}")
                return code
        log(f"[{i}/{n}] done in {(time.perf_counter() - t0) / 60:.1f} min")
    return 0


def _subprocesses(argvs: Sequence[list[str]]) -> list[int]:
    """Run the commands at once as ``python -m mistvla.harness.cli ...``; their exit statuses."""
    procs = [subprocess.Popen([sys.executable, "-m", "mistvla.harness.cli", *a]) for a in argvs]
    return [p.wait() for p in procs]
