"""A real run -> ``mistvla export`` -> LeRobotDataset -> ``lerobot-train`` (ACT, 5 steps) -> reload -> action.

Offline, as a LeRobot user would run it here: ``HF_HUB_OFFLINE=1``, the pyav video backend
(no FFmpeg/torchcodec needed), ``--policy.pretrained_backbone_weights=null`` (no torchvision
download; ACT on state builds no backbone anyway), training only on the ``train`` episodes that
``meta/info.json``'s ``splits`` lists.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
import yaml

from mistvla.harness.cli import main
from mistvla.harness.config.run import load_config
from mistvla.harness.run.run_command import run

REFERENCE = "experiments/artifacts/reference/libero_spatial"


def split_episodes(root: Path, name: str) -> list[int]:
    """Episode indices of split ``name`` from LeRobot's ``"start:stop"`` range in ``meta/info.json``."""
    start, stop = json.loads((root / "meta/info.json").read_text())["splits"][name].split(":")
    return list(range(int(start), int(stop)))


def test_export_trains_act_with_lerobot_train_and_reloads(tmp_path: Path) -> None:
    from lerobot.datasets.lerobot_dataset import LeRobotDataset
    from lerobot.policies.act.modeling_act import ACTPolicy
    from lerobot.policies.factory import make_pre_post_processors

    data = {
        "name": "tiny",
        "output_dir": str(tmp_path / "{name}"),
        "policy": {"name": "reference", "params": {"checkpoint": REFERENCE}},
        "episodes": {"suite": "libero_spatial", "tasks": [1], "init_states": [40, 41, 42], "seeds": [0]},
        "env": {"max_steps": 8},
        "risk": {"source": "oracle"},
    }
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(data))
    run_dir = run(load_config(tmp_path / "tiny.yaml"), workers=1, progress=False)
    root = tmp_path / "ds"
    assert main(["export", str(run_dir), "--out", str(root), "--val-init-states", "42", "--quiet"]) == 0
    train = split_episodes(root, "train")
    assert train == [0, 1] and split_episodes(root, "val") == [2]

    out = tmp_path / "train"
    args = [
        f"--dataset.repo_id=mistvla/{Path(run_dir).name}", f"--dataset.root={root}",
        f"--dataset.episodes={train}", "--dataset.video_backend=pyav",
        "--policy.type=act", "--policy.device=cpu", "--policy.push_to_hub=false",
        "--policy.pretrained_backbone_weights=null", "--policy.chunk_size=4", "--policy.n_action_steps=4",
        "--policy.dim_model=32", "--policy.n_heads=2", "--policy.dim_feedforward=64",
        "--policy.n_encoder_layers=1", "--policy.n_vae_encoder_layers=1", "--policy.latent_dim=8",
        "--steps=5", "--batch_size=4", "--num_workers=0", "--save_freq=5", "--log_freq=1",
        "--eval_freq=0", "--wandb.enable=false", f"--output_dir={out}",
    ]  # fmt: skip
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "WANDB_MODE": "disabled"}
    proc = subprocess.run(
        [sys.executable, "-m", "lerobot.scripts.lerobot_train", *args],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "dataset.num_episodes=2" in proc.stderr + proc.stdout  # the train split only
    last = out / "checkpoints" / "last"
    assert json.loads((last / "training_state" / "training_step.json").read_text())["step"] == 5

    pretrained = last / "pretrained_model"
    policy = ACTPolicy.from_pretrained(pretrained)
    policy.eval()
    pre, post = make_pre_post_processors(policy.config, pretrained_path=str(pretrained))
    ds = LeRobotDataset(f"mistvla/{Path(run_dir).name}", root=root)
    item = ds[len(ds) - 1]  # a held-out frame
    batch = pre({k: item[k] for k in ("observation.state", "observation.environment_state")})
    with torch.no_grad():
        action = post(policy.select_action(batch))
    assert tuple(action.shape) == (1, 7) and np.isfinite(action.numpy()).all()
