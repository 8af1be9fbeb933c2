"""Frames of a LeRobot demonstration dataset as arrays, read with LeRobot's own loader.

Works on any LeRobot dataset with ``observation.state`` (8 floats: eef position,
eef axis-angle in either convention of :mod:`mistvla.harness.envs.conventions`, fingers), ``observation.environment_state`` (7 floats per object) and
``action``; the mistvla metadata (object names, split by init state) is used
when present, otherwise the split is by episode index.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mistvla.harness.errors import ConfigError

META_FILE = "meta/mistvla.json"
REQUIRED = ("observation.state", "observation.environment_state", "action")


@dataclass
class DemoFrames:
    """Per-frame arrays (first axis: frame) and the dataset's identity."""

    state: np.ndarray
    env: np.ndarray
    action: np.ndarray
    episode: np.ndarray
    init_state: np.ndarray
    instruction: list[str]
    object_names: list[str]
    meta: dict[str, Any]
    data_hash: str
    past: np.ndarray | None = None
    """The state ``history`` frames earlier (:func:`~mistvla.policies.reference.features.past_states`)."""

    def select(self, mask: np.ndarray) -> DemoFrames:
        idx = np.flatnonzero(mask)
        return DemoFrames(
            self.state[idx], self.env[idx], self.action[idx], self.episode[idx], self.init_state[idx],
            [self.instruction[i] for i in idx], self.object_names, self.meta, self.data_hash,
            None if self.past is None else self.past[idx],
        )  # fmt: skip


def dataset_hash(root: str | Path) -> str:
    """SHA-256 over the dataset's data Parquet files and ``meta/info.json`` (names and bytes)."""
    root = Path(root)
    h = hashlib.sha256()
    for path in sorted([*root.glob("data/**/*.parquet"), root / "meta/info.json"]):
        h.update(str(path.relative_to(root)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def load_frames(root: str | Path, repo_id: str | None = None) -> DemoFrames:
    """Every frame of the LeRobot dataset at ``root`` (offline)."""
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    root = Path(root)
    if not (root / "meta/info.json").is_file():
        raise ConfigError(f"dataset: {root} is not a LeRobot dataset (no meta/info.json)")
    ds = LeRobotDataset(repo_id or f"local/{root.name}", root=root)
    missing = [k for k in REQUIRED if k not in ds.features]
    if missing:
        raise ConfigError(f"dataset: {root} lacks feature(s) {', '.join(missing)}")
    hf = ds.hf_dataset.with_format("numpy")
    cols = {k: np.stack(hf[k]).astype(np.float32) for k in REQUIRED}
    episode = np.asarray(hf["episode_index"]).reshape(-1)
    init = np.asarray(hf["init_state"]).reshape(-1) if "init_state" in ds.features else episode.copy()
    tasks = {int(i): str(t) for t, i in ds.meta.tasks["task_index"].items()}
    instruction = [tasks[int(i)] for i in np.asarray(hf["task_index"]).reshape(-1)]
    meta_path = root / META_FILE  # written by mistvla.harness.datasets.lerobot_export
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    names = meta.get("object_names") or [
        f"object_{i}" for i in range(cols["observation.environment_state"].shape[1] // 7)
    ]
    return DemoFrames(
        cols["observation.state"], cols["observation.environment_state"], cols["action"], episode, init,
        instruction, list(names), meta, dataset_hash(root),
    )  # fmt: skip


def split_masks(frames: DemoFrames, val_init_states: list[int] | None) -> tuple[np.ndarray, np.ndarray, dict]:
    """Train and validation masks by init state (from the dataset's split unless given), and the split."""
    if val_init_states is None:
        split = frames.meta.get("split")
        if split is None:  # a foreign dataset: every tenth episode validates
            val = frames.episode % 10 == 9
            return ~val, val, {"by": "episode_index", "val": "episode_index % 10 == 9"}
        val_init_states = list(split["val"])
    val = np.isin(frames.init_state, val_init_states)
    train_states = sorted({int(k) for k in np.unique(frames.init_state[~val])})
    return ~val, val, {"by": "init_state", "train": train_states, "val": sorted(val_init_states)}


def load_many(roots: list[str], repo_id: str | None = None) -> DemoFrames:
    """Frames of several datasets with the same layout (e.g. one suite collected in parts), concatenated."""
    parts = [load_frames(r, repo_id) for r in roots]
    if any(p.object_names != parts[0].object_names for p in parts):
        raise ConfigError("dataset: the datasets have different object layouts (different suites?)")
    offsets = np.cumsum([0] + [int(p.episode.max()) + 1 for p in parts[:-1]])
    digest = hashlib.sha256("".join(p.data_hash for p in parts).encode()).hexdigest()
    return DemoFrames(
        np.concatenate([p.state for p in parts]), np.concatenate([p.env for p in parts]),
        np.concatenate([p.action for p in parts]), np.concatenate([p.episode + o for p, o in zip(parts, offsets, strict=True)]),
        np.concatenate([p.init_state for p in parts]), [t for p in parts for t in p.instruction],
        parts[0].object_names, parts[0].meta, digest,
    )  # fmt: skip
