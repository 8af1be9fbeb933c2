"""The dual-head risk MLP and its checkpoint (weights, normalization, feature/label/split specs).

A shared backbone (input normalization from the training split, LayerNorm,
Linear, GELU, Dropout) feeds a binary head with one logit per (horizon, type)
("failure of this type within H steps?") and a per-dimension head with one
logit per action dimension ("did this dimension carry the robot into the
obstacle?"), trained only on steps with a collision ahead.

>>> m = RiskMLP(ModelConfig(in_dim=8, hidden=4, n_horizons=2, n_types=1))
>>> logits, dims = m(torch.zeros(3, 8))
>>> tuple(logits.shape), tuple(dims.shape)
((3, 2, 1), (3, 7))
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn

from mistvla.harness.errors import StoreError

WEIGHTS = "model.safetensors"
META = "checkpoint.json"


@dataclass
class ModelConfig:
    in_dim: int
    hidden: int = 256
    n_horizons: int = 4
    n_types: int = 3
    n_dims: int = 7
    dropout: float = 0.1


class RiskMLP(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.register_buffer("mean", torch.zeros(config.in_dim))
        self.register_buffer("std", torch.ones(config.in_dim))
        self.backbone = nn.Sequential(
            nn.LayerNorm(config.in_dim),
            nn.Linear(config.in_dim, config.hidden),
            nn.GELU(),
            nn.Dropout(config.dropout),
        )
        self.binary = nn.Linear(config.hidden, config.n_horizons * config.n_types)
        self.per_dim = nn.Linear(config.hidden, config.n_dims)

    def set_normalization(self, mean: np.ndarray, std: np.ndarray) -> None:
        self.mean.copy_(torch.as_tensor(mean, dtype=torch.float32))
        self.std.copy_(torch.as_tensor(np.maximum(std, 1e-6), dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.backbone((x - self.mean) / self.std)
        logits = self.binary(z).view(-1, self.config.n_horizons, self.config.n_types)
        return logits, self.per_dim(z)


@torch.no_grad()
def predict(model: RiskMLP, x: np.ndarray, batch: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities ``(rows, horizons, types)`` and ``(rows, 7)`` for float inputs ``x`` (eval mode)."""
    model.eval()
    probs, dims = [], []
    for i in range(0, len(x), batch):
        logits, d = model(torch.as_tensor(np.asarray(x[i : i + batch], dtype=np.float32)))
        probs.append(torch.sigmoid(logits).numpy())
        dims.append(torch.sigmoid(d).numpy())
    return np.concatenate(probs), np.concatenate(dims)


def save_checkpoint(path: str | Path, model: RiskMLP, meta: dict[str, Any]) -> Path:
    """Write weights and ``checkpoint.json`` into a temp directory, then move it into place (atomic)."""
    from safetensors.torch import save_file

    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
    try:
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(tmp / WEIGHTS))
        body = {**meta, "model_config": asdict(model.config)}
        (tmp / META).write_text(json.dumps(body, indent=1, sort_keys=True, default=_json_default))
        for f in tmp.iterdir():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
        if final.exists():
            old = final.with_name(f".{final.name}.old-{os.getpid()}")
            os.replace(final, old)
            os.replace(tmp, final)
            shutil.rmtree(old)
        else:
            os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON-serialisable: {type(o).__name__}")


def load_checkpoint(path: str | Path) -> tuple[RiskMLP, dict[str, Any]]:
    """The model (eval mode) and the checkpoint's metadata."""
    from safetensors.torch import load_file

    root = Path(path)
    if not (root / META).exists() or not (root / WEIGHTS).exists():
        raise StoreError(f"checkpoint: {root} has no {META}/{WEIGHTS}; train one with 'mistvla risk train'")
    meta = json.loads((root / META).read_text())
    model = RiskMLP(ModelConfig(**meta["model_config"]))
    model.load_state_dict(load_file(str(root / WEIGHTS)))
    model.eval()
    return model, meta
