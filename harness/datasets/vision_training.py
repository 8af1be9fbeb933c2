"""``mistvla train-vision CONFIG``: image demonstrations -> ``lerobot-train`` of the scratch SmolVLA.

Steps, each skipped when already done, so rerunning the command continues:

1. merge the finished shards of every ``demos`` config (:mod:`~mistvla.harness.datasets.demo_shards`)
   into one LeRobot dataset ``<output_dir>/dataset`` with LeRobot's ``aggregate_datasets`` (rebuilt
   when the shard list changed); ``meta/mistvla.json`` keeps the episode records and the train / val
   episode lists (init states 0-35 / 36-39);
2. write the initial checkpoint ``<output_dir>/init`` (:func:`~mistvla.policies.smolvla.scratch.build_init`);
3. run ``lerobot-train`` on the train episodes into ``<output_dir>/train`` (LeRobot's ``--resume`` once
   a checkpoint exists; the resumed run keeps its episode list: to train on more demonstrations,
   start a new ``name``).

``--ship DIR`` copies the last checkpoint to ``DIR`` (:mod:`~mistvla.harness.datasets.vision_checkpoints`);
``init_from: DIR`` in a new config starts the next stage from it (runs do not outlive a session's machine).

The policy to evaluate is then ``<output_dir>/train/checkpoints/last/pretrained_model`` with
``vlm_path: <output_dir>/init/vlm`` (policy kind ``smolvla_scratch``, docs/vision_policy.md).

Config::

    name: vision_libero_spatial
    demos: [experiments/reference/demos_libero_spatial_images_a.yaml, ...]
    output_dir: runs/vision/{name}
    spec: {steps: 30000, batch_size: 32}   # ScratchSpec fields
    init_from: experiments/artifacts/vision/libero_spatial   # optional: a shipped checkpoint
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mistvla.harness.datasets.demo_shards import dataset_roots
from mistvla.harness.datasets.demos import load_demo_config
from mistvla.harness.datasets.lerobot_export import META_FILE, read_meta
from mistvla.harness.datasets.vision_checkpoints import copy_checkpoint, ship
from mistvla.harness.errors import ConfigError
from mistvla.harness.typed import from_dict


@dataclass(frozen=True)
class VisionTrainConfig:
    name: str
    demos: list[str]
    """Demonstration configs (``mistvla demos``) or dataset directories."""
    output_dir: str = "runs/vision/{name}"
    spec: dict[str, Any] = field(default_factory=dict)
    """:class:`~mistvla.policies.smolvla.scratch.ScratchSpec` fields."""
    init_from: str | None = None
    """A shipped checkpoint (``policy/`` + ``vlm/``, :func:`ship`) to start from instead of random weights:
    the next stage of a training that runs over several sessions (the optimiser state starts afresh)."""

    @property
    def root(self) -> Path:
        return Path(self.output_dir.format(name=self.name))


def load_vision_train_config(path: str | Path) -> VisionTrainConfig:
    import yaml

    return from_dict(VisionTrainConfig, yaml.safe_load(Path(path).read_text()) or {}, "")


def demo_roots(demos: list[str]) -> list[Path]:
    """The dataset directories the ``demos`` entries name (a YAML: its config's ``output_dir``)."""
    return [load_demo_config(d).root if str(d).endswith((".yaml", ".yml")) else Path(d) for d in demos]


def merge_shards(roots: list[Path], out: Path, repo_id: str) -> dict[str, list[int]]:
    """One LeRobot dataset at ``out`` from the finished shards under ``roots``; returns the split."""
    from lerobot.datasets.aggregate import aggregate_datasets

    shards = dataset_roots(*roots)
    if not shards:
        raise ConfigError(f"demos: no finished shard under {', '.join(map(str, roots))}")
    sources = [str(s.resolve()) for s in shards]
    meta = read_meta(out)
    if meta.get("sources") == sources:
        return meta["split_episodes"]
    if out.exists():
        shutil.rmtree(out)
    repo_ids = [
        json.loads((s / "meta/info.json").read_text()).get("repo_id") or f"mistvla/{s.name}" for s in shards
    ]
    aggregate_datasets(repo_ids, repo_id, roots=shards, aggr_root=out)
    episodes = [e for s in shards for e in read_meta(s)["episodes"]]
    for i, e in enumerate(episodes):
        e["episode_index"] = i
    split = {name: [i for i, e in enumerate(episodes) if e["split"] == name] for name in ("train", "val")}
    first = read_meta(shards[0])
    keep = ("suite", "split", "label", "convention", "object_names", "cameras")
    merged = {
        **{k: first.get(k) for k in keep},
        "sources": sources,
        "split_episodes": split,
        "episodes": episodes,
    }
    (out / META_FILE).write_text(json.dumps(merged, indent=1))
    return split


def train_vision(cfg: VisionTrainConfig, steps: int | None = None) -> Path:
    """Merge, initialise and train (or continue training); returns the last checkpoint's directory."""
    from mistvla.policies.smolvla.scratch import ScratchSpec, build_init, lerobot_train_args, train_env

    spec = from_dict(ScratchSpec, {**cfg.spec, **({"steps": steps} if steps else {})}, "spec")
    root = cfg.root
    root.mkdir(parents=True, exist_ok=True)
    repo_id = f"mistvla/{cfg.name}_demos"
    split = merge_shards(demo_roots(cfg.demos), root / "dataset", repo_id)
    init = root / "init"
    if not (init / "policy" / "model.safetensors").exists():
        if cfg.init_from:
            copy_checkpoint(Path(cfg.init_from), init, spec)
        else:
            build_init(init, spec)
    out = (root / "train").resolve()
    args = lerobot_train_args(spec, init, (root / "dataset").resolve(), repo_id, split["train"], out)
    env = {**os.environ, **train_env()}
    cmd = [sys.executable, "-m", "mistvla.policies.smolvla.train_launcher", *args]
    subprocess.run(cmd, env=env, check=True)
    return out / "checkpoints" / "last" / "pretrained_model"


def ship_run(cfg: VisionTrainConfig, dst: str | Path) -> Path:
    """The run's last checkpoint as a shipped one at ``dst`` (:func:`~.vision_checkpoints.ship`)."""
    from mistvla.policies.smolvla.scratch import ScratchSpec

    root = cfg.root
    meta = read_meta(root / "dataset")
    stage = {
        "config": cfg.name,
        "demos": list(cfg.demos),
        "train_episodes": len(meta.get("split_episodes", {}).get("train", [])),
        "init_from": cfg.init_from,
        "spec": asdict(from_dict(ScratchSpec, cfg.spec, "spec")),
    }
    return ship(root, Path(dst), stage)
