"""Copy a trained checkpoint into the repository (``experiments/artifacts/reference/<suite>/``).

The copy is verified against its manifest first and written atomically; the
training state (optimizer, for resuming) is not part of a checkpoint and is
never shipped.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from mistvla.policies.reference.checkpoint import verify_checkpoint


def ship(checkpoint: str | Path, destination: str | Path) -> Path:
    """Verify ``checkpoint`` and copy it to ``destination`` (replacing it); returns the destination."""
    verify_checkpoint(checkpoint)
    dest = Path(destination)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(checkpoint, tmp)
    verify_checkpoint(tmp)
    if dest.exists():
        shutil.rmtree(dest)
    tmp.rename(dest)
    return dest
