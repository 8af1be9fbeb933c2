"""A reference-policy checkpoint directory: weights, config, tokenizer, normalization, split, hashes.

Files: ``model.safetensors``, ``config.json`` (network sizes, object layout,
training config, dataset identity and metrics), ``tokenizer.json``,
``normalization.json``, ``split.json`` (the init states trained and
validated on), and ``manifest.json`` with the SHA-256 of each of them.
:func:`load_checkpoint` checks every hash. :func:`save_checkpoint` writes a
sibling temporary directory and renames it into place, so a reader never sees
half a checkpoint.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mistvla.harness.errors import ConfigError
from mistvla.policies.reference.model import ReferenceConfig, ReferenceModel
from mistvla.policies.reference.normalization import Normalizer
from mistvla.policies.reference.tokenizer import WordTokenizer

FORMAT = "mistvla.reference/1"
FILES = ("model.safetensors", "config.json", "tokenizer.json", "normalization.json", "split.json")


class CheckpointError(ConfigError):
    """A checkpoint directory that is missing, incomplete or does not match its manifest."""


def sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass
class Checkpoint:
    """Everything a :class:`~mistvla.policies.reference.policy.ReferencePolicy` needs."""

    model: ReferenceModel
    tokenizer: WordTokenizer
    normalizer: Normalizer
    object_names: list[str]
    split: dict[str, Any]
    info: dict[str, Any]
    """config.json beyond the network: training config, dataset identity, metrics."""


def save_checkpoint(directory: str | Path, ckpt: Checkpoint) -> Path:
    """Write ``ckpt`` to ``directory`` atomically (replacing what was there)."""
    from safetensors.torch import save_file

    final = Path(directory)
    tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    state = {k: v.detach().contiguous() for k, v in ckpt.model.state_dict().items()}
    save_file(state, tmp / "model.safetensors", metadata={"format": FORMAT})
    config = {
        "format": FORMAT,
        "model": ckpt.model.config.to_dict(),
        "object_names": ckpt.object_names,
        **ckpt.info,
    }
    parts = {
        "config.json": config,
        "tokenizer.json": ckpt.tokenizer.to_dict(),
        "normalization.json": ckpt.normalizer.to_dict(),
        "split.json": ckpt.split,
    }
    for name, obj in parts.items():
        (tmp / name).write_text(json.dumps(obj, indent=1, sort_keys=True) + "\n")
    manifest = {"format": FORMAT, "sha256": {name: sha256(tmp / name) for name in FILES}}
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    old = final.with_name(f".{final.name}.old-{os.getpid()}")
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    shutil.rmtree(old, ignore_errors=True)
    return final


def verify_checkpoint(directory: str | Path) -> dict[str, Any]:
    """The manifest, after checking that every file is present and matches its hash."""
    d = Path(directory)
    if not (d / "manifest.json").is_file():
        raise CheckpointError(
            f"policy.params.checkpoint: {d} has no manifest.json (not a reference checkpoint)"
        )
    manifest = json.loads((d / "manifest.json").read_text())
    for name in FILES:
        if not (d / name).is_file():
            raise CheckpointError(f"policy.params.checkpoint: {d} lacks {name}")
        if sha256(d / name) != manifest["sha256"].get(name):
            raise CheckpointError(f"policy.params.checkpoint: {d / name} does not match its manifest hash")
    return manifest


def load_checkpoint(directory: str | Path) -> Checkpoint:
    """Load and verify a checkpoint; the model is in eval mode on the CPU."""
    from safetensors.torch import load_file

    d = Path(directory)
    verify_checkpoint(d)
    config = json.loads((d / "config.json").read_text())
    model = ReferenceModel(ReferenceConfig(**config.pop("model")))
    model.load_state_dict(load_file(d / "model.safetensors"))
    model.eval()
    tokenizer = WordTokenizer.from_dict(json.loads((d / "tokenizer.json").read_text()))
    normalizer = Normalizer.from_dict(json.loads((d / "normalization.json").read_text()))
    split = json.loads((d / "split.json").read_text())
    object_names = config.pop("object_names")
    config.pop("format", None)
    return Checkpoint(model, tokenizer, normalizer, object_names, split, config)
