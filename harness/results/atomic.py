"""Atomic file writes: a temp name in the final directory, fsynced, then ``os.replace``.

A reader never sees half a file, and a crash leaves either the old file or the
new one. Temp names contain :data:`TMP_MARK`, so a store can sweep leftovers.

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> write_json_atomic(d / "a.json", {"b": 1})
>>> (d / "a.json").read_text()
'{\\n  "b": 1\\n}\\n'
>>> [p.name for p in d.iterdir()]
['a.json']
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

TMP_MARK = ".tmp-"


def fsync_dir(path: Path) -> None:
    """Make a rename inside ``path`` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def temp_path(path: Path, suffix: str = "") -> Path:
    """A unique temp name beside ``path`` (``suffix`` keeps an extension that writers read, e.g. ``.mp4``)."""
    return path.with_name(f"{path.name}{TMP_MARK}{os.getpid()}-{uuid.uuid4().hex[:8]}{suffix}")


def atomic_write(
    path: str | os.PathLike[str], write: Callable[[Path], Any], durable: bool = True, suffix: str = ""
) -> None:
    """Call ``write(tmp_path)`` then move the temp file onto ``path`` (fsynced when ``durable``).

    On any error the temp file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    tmp = temp_path(path, suffix)
    try:
        write(tmp)
        if durable:
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
        if durable:
            fsync_dir(path.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | os.PathLike[str], text: str, durable: bool = True) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(text), durable)


def write_json_atomic(path: str | os.PathLike[str], obj: Any, durable: bool = True) -> None:
    """Indented, key-sorted JSON with a trailing newline."""
    write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n", durable)


def save_npy_atomic(path: str | os.PathLike[str], array: np.ndarray, durable: bool = True) -> None:
    """Save ``array`` as a ``.npy`` file atomically (loadable with ``np.load(..., mmap_mode="r")``)."""

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.save(fh, np.ascontiguousarray(array), allow_pickle=False)

    atomic_write(path, write, durable)
