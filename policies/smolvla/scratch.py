"""LeRobot SmolVLA, reduced and trained from scratch here: the image policy of issue 26.

No pretrained VLA or VLM weights can be fetched here, so the policy is LeRobot's own SmolVLA
(``lerobot.policies.smolvla``: SigLIP-style vision tower, SmolVLM connector, Llama text layers, the
flow-matching action expert cross-attending to them) at a size that trains on CPU, randomly
initialised and trained end to end (``freeze_vision_encoder`` and ``train_expert_only`` off) with
``lerobot-train`` on the scripted demonstrations.

It reads only what a real VLA gets: the agentview and wrist images (``observation.images.image`` /
``image2``, 128 px, the ``lerobot`` convention), the instruction and the 8-D proprioception
``observation.state``. The checkpoint's ``input_features`` are fixed here, before training, so the
object poses that mistvla's demonstration datasets also hold (``observation.environment_state``)
are never an input; :func:`check_inputs` refuses a checkpoint that reads anything else.

A scratch checkpoint is a directory with ``vlm/`` (the SmolVLM config, processor and tokenizer
SmolVLA builds its VLM from) and ``policy/`` (a LeRobot pretrained dir). :func:`build_init` writes
the initial one (seeded random weights) that ``lerobot-train --policy.path`` starts from;
:func:`lerobot_train_args` is that command's arguments (image augmentation on: LeRobot's
``ImageTransforms``, colour jitter and a random affine shift of up to 5%).

>>> spec = ScratchSpec()
>>> spec.model_spec().image_size, spec.model_spec().freeze_vision_encoder
(128, False)
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from mistvla.policies.testing.tiny_smolvla import TinySmolVLASpec, build_tiny_smolvla

IMAGE_KEYS = ("observation.images.image", "observation.images.image2")
ALLOWED_INPUTS = frozenset({*IMAGE_KEYS, "observation.state"})


@dataclass(frozen=True)
class ScratchSpec:
    """The reduced SmolVLA (sizes as :class:`TinySmolVLASpec` names them) and how it is trained.

    Defaults: 4 VLM layers of width 128 (expert width 96), a 2-layer vision tower of width 96,
    1.8 M parameters (7 MB), 0.62 CPU-seconds per training step at batch 32 on one core
    (benchmarks/vision_policy_budget.py; 8 layers of width 256 and a 4x192 tower: 10 M, 3.7 s).
    """

    text_hidden: int = 128
    text_layers: int = 4
    heads: int = 4
    kv_heads: int = 2
    head_dim: int = 64
    vision_hidden: int = 96
    vision_layers: int = 2
    image_size: int = 128
    patch_size: int = 16
    """128 px / 16 = 8x8 patches; SmolVLM's pixel shuffle (x2) gives 16 tokens per image."""
    num_expert_layers: int = -1
    self_attn_every_n_layers: int = 2
    chunk_size: int = 10
    n_action_steps: int = 5
    num_steps: int = 10
    tokenizer_max_length: int = 32
    seed: int = 0
    # training (lerobot-train)
    steps: int = 30_000
    batch_size: int = 32
    lr: float = 3e-4
    warmup_steps: int = 500
    decay_steps: int = 30_000
    save_freq: int = 1_000
    num_workers: int = 1
    augment: bool = True
    """LeRobot's ``ImageTransforms`` (brightness, contrast, saturation, hue, sharpness, affine shift)."""

    def model_spec(self) -> TinySmolVLASpec:
        names = {f.name for f in fields(TinySmolVLASpec)}
        kw = {k: v for k, v in asdict(self).items() if k in names}
        return TinySmolVLASpec(
            **kw, image_keys=IMAGE_KEYS, freeze_vision_encoder=False, train_expert_only=False
        )


MODEL_FIELDS = tuple(
    f.name for f in fields(ScratchSpec) if f.name in {g.name for g in fields(TinySmolVLASpec)} - {"seed"}
)
"""The spec fields that make the model (sizes, chunking); the rest say how it is trained."""


def build_init(root: str | Path, spec: ScratchSpec) -> Path:
    """``root/vlm`` and ``root/policy`` (seeded random weights, placeholder statistics that
    ``lerobot-train`` replaces with the dataset's); returns ``root``."""
    root = Path(root).resolve()
    build_tiny_smolvla(root, spec.model_spec())
    (root / "scratch_spec.json").write_text(json.dumps(asdict(spec), indent=1))
    return root


def check_inputs(policy_dir: str | Path) -> list[str]:
    """The checkpoint's input keys, after checking they are only the two cameras and the state."""
    config = json.loads((Path(policy_dir) / "config.json").read_text())
    keys = sorted(config["input_features"])
    extra = sorted(set(keys) - ALLOWED_INPUTS)
    if extra:
        raise ValueError(f"input_features: {policy_dir} reads {extra}, beyond images and proprioception")
    return keys


def lerobot_train_args(
    spec: ScratchSpec,
    init: str | Path,
    dataset_root: str | Path,
    repo_id: str,
    episodes: list[int],
    out: str | Path,
) -> list[str]:
    """``lerobot-train`` arguments: a fresh run from ``init/policy`` or, when ``out`` holds a
    checkpoint, the resumption of that run (LeRobot's ``--resume``)."""
    last = Path(out) / "checkpoints" / "last" / "pretrained_model" / "train_config.json"
    if last.exists():
        return [f"--config_path={last}", "--resume=true"]
    args = [
        f"--policy.path={Path(init) / 'policy'}", "--policy.device=cpu", "--policy.push_to_hub=false",
        f"--policy.optimizer_lr={spec.lr}", f"--policy.scheduler_warmup_steps={spec.warmup_steps}",
        f"--policy.scheduler_decay_steps={spec.decay_steps}", f"--policy.scheduler_decay_lr={spec.lr / 40}",
        f"--dataset.repo_id={repo_id}", f"--dataset.root={dataset_root}", f"--dataset.episodes={episodes}",
        f"--dataset.image_transforms.enable={str(spec.augment).lower()}",
        f"--steps={spec.steps}", f"--batch_size={spec.batch_size}", f"--num_workers={spec.num_workers}",
        f"--save_freq={spec.save_freq}", "--log_freq=50", "--eval_freq=0", f"--seed={spec.seed}",
        "--wandb.enable=false", f"--output_dir={out}",
    ]  # fmt: skip
    return args


def train_env() -> dict[str, Any]:
    """Environment variables for an offline ``lerobot-train`` (no hub, no wandb) on one torch thread:
    with two threads on the shared, oversubscribed 2 cores a step took ~5 CPU-s (12 s wall) against
    0.62 CPU-s measured single-threaded."""
    return {
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "WANDB_MODE": "disabled",
        "OMP_NUM_THREADS": "1",
    }
