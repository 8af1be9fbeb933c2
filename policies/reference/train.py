"""Behaviour cloning of the reference policy on a LeRobot demonstration dataset.

``mistvla train-policy CONFIG``: seeded and deterministic on the CPU, tqdm
progress with the loss, early stopping on the held-out (validation init
states) loss, the best checkpoint written atomically, the training state
saved every epoch so that the same command resumes after an interruption.
Loss: L1 on the normalized arm dims plus binary cross-entropy of the gripper.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mistvla.harness.typed import from_dict
from mistvla.policies.reference.checkpoint import Checkpoint, save_checkpoint
from mistvla.policies.reference.data import DemoFrames, load_many, split_masks
from mistvla.policies.reference.features import (
    HISTORY_FEATURES,
    STATE_FEATURES,
    environment_features,
    object_features,
    past_states,
    state_features,
)
from mistvla.policies.reference.model import ReferenceConfig, ReferenceModel
from mistvla.policies.reference.normalization import Normalizer
from mistvla.policies.reference.tokenizer import WordTokenizer


@dataclass(frozen=True)
class TrainConfig:
    """A training run (YAML: ``experiments/reference/train_libero_spatial.yaml``)."""

    name: str
    dataset: list[str]
    """LeRobot dataset roots (one suite, possibly collected in parts)."""
    repo_id: str | None = None
    output_dir: str = "runs/train/{name}"
    hidden_size: int = 128
    num_layers: int = 4
    num_heads: int = 4
    intermediate_size: int = 256
    prompt_length: int = 20
    pool_instruction: bool = True
    relative_env: bool = False
    """Object positions relative to the end effector as extra features (see ``features.py``)."""
    history: int = 0
    """> 0: the eef displacement since this many steps ago as extra state features (``features.py``)."""
    input_std_floor: float | None = None
    """Least std of a varying state/env feature (None: no floor). Static objects' rotations vary by
    ~1e-5 in LIBERO's init states; unfloored, a 1 cm / 5 degree object_layout shift gave thousands of
    stds and SR 0/20 (docs/reference_policy.md, perturbation sweep)."""
    input_clip: float | None = None
    """Bound on normalized state/env features (None: unbounded)."""
    epochs: int = 40
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup_steps: int = 100
    patience: int = 6
    seed: int = 0
    threads: int = 2
    val_init_states: list[int] | None = None
    max_minutes: float = 30.0

    def __post_init__(self) -> None:
        for name in ("input_std_floor", "input_clip"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                from mistvla.harness.errors import ConfigError

                raise ConfigError(f"{name}: must be > 0 (or null for none), got {value}")

    @property
    def root(self) -> Path:
        return Path(self.output_dir.format(name=self.name))


def load_train_config(path: str | Path, overrides: dict[str, Any] | None = None) -> TrainConfig:
    import yaml

    raw = yaml.safe_load(Path(path).read_text()) or {}
    return from_dict(TrainConfig, {**raw, **(overrides or {})}, "")


def _env(frames: DemoFrames, relative: bool) -> np.ndarray:
    return environment_features(frames.env, frames.state[:, :3] if relative else None)


def _tensors(
    frames: DemoFrames, norm: Normalizer, tok: WordTokenizer, length: int, relative: bool
) -> dict[str, torch.Tensor]:
    vocab = {t: tok.encode(t, length) for t in sorted(set(frames.instruction))}
    return {
        "ids": torch.tensor([vocab[t] for t in frames.instruction], dtype=torch.long),
        "state": torch.from_numpy(norm.normalize("state", state_features(frames.state, frames.past))),
        "env": torch.from_numpy(norm.normalize("env", _env(frames, relative))),
        "arm": torch.from_numpy(norm.normalize("action", frames.action[:, :6])),
        "grip": torch.from_numpy((frames.action[:, 6] > 0).astype(np.float32)),
    }


def loss_fn(model: ReferenceModel, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    out = model(batch["ids"], batch["state"], batch["env"])
    arm = torch.nn.functional.l1_loss(out[:, :6], batch["arm"])
    grip = torch.nn.functional.binary_cross_entropy_with_logits(out[:, 6], batch["grip"])
    return arm + grip


@torch.no_grad()
def evaluate(model: ReferenceModel, data: dict[str, torch.Tensor], batch_size: int = 1024) -> float:
    model.eval()
    n = len(data["ids"])
    total = 0.0
    for i in range(0, n, batch_size):
        batch = {k: v[i : i + batch_size] for k, v in data.items()}
        total += float(loss_fn(model, batch)) * len(batch["ids"])
    return total / max(n, 1)


def _save_state(path: Path, state: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + f".tmp-{os.getpid()}")
    torch.save(state, tmp)
    os.replace(tmp, path)


def prepare(
    cfg: TrainConfig,
) -> tuple[Checkpoint, dict[str, torch.Tensor], dict[str, torch.Tensor], dict[str, Any]]:
    """Model, normalization and tokenizer fitted on the training frames; train and validation tensors."""
    frames = load_many(list(cfg.dataset), cfg.repo_id)
    if cfg.history > 0:  # before the split: the past of a frame is in its own episode
        frames.past = past_states(frames.state, frames.episode, cfg.history)
    train_mask, val_mask, split = split_masks(frames, cfg.val_init_states)
    train, val = frames.select(train_mask), frames.select(val_mask)
    norm = Normalizer.fit(
        {
            "state": state_features(train.state, train.past),
            "env": _env(train, cfg.relative_env),
            "action": train.action[:, :6],
        },
        floor={k: cfg.input_std_floor for k in ("state", "env")} if cfg.input_std_floor else None,
        clip={k: cfg.input_clip for k in ("state", "env")} if cfg.input_clip else None,
    )
    tok = WordTokenizer.build(sorted(set(frames.instruction)))
    torch.manual_seed(cfg.seed)
    model = ReferenceModel(
        ReferenceConfig(
            vocab_size=len(tok.vocab), env_dim=object_features(cfg.relative_env) * len(frames.object_names),
            hidden_size=cfg.hidden_size, num_layers=cfg.num_layers, num_heads=cfg.num_heads,
            intermediate_size=cfg.intermediate_size, prompt_length=cfg.prompt_length,
            pool_instruction=cfg.pool_instruction, relative_env=cfg.relative_env, history=cfg.history,
            state_dim=STATE_FEATURES + (HISTORY_FEATURES if cfg.history > 0 else 0),
        )
    )  # fmt: skip
    split = {**split, "n_train_frames": len(train.action), "n_val_frames": len(val.action),
             "n_train_episodes": len(set(train.episode.tolist())), "n_val_episodes": len(set(val.episode.tolist()))}  # fmt: skip
    info = {
        "dataset": {
            "roots": list(cfg.dataset),
            "sha256": frames.data_hash,
            "suite": frames.meta.get("suite"),
        },
        "train_config": asdict(cfg),
    }
    ckpt = Checkpoint(model, tok, norm, frames.object_names, split, info)
    length = cfg.prompt_length
    rel = cfg.relative_env
    return ckpt, _tensors(train, norm, tok, length, rel), _tensors(val, norm, tok, length, rel), split


def train(cfg: TrainConfig, progress: bool = True) -> Path:
    """Train (or resume) and return the best checkpoint's directory (``<output_dir>/checkpoint``)."""
    from tqdm import tqdm

    torch.set_num_threads(cfg.threads)
    torch.use_deterministic_algorithms(True)
    ckpt, train_data, val_data, _ = prepare(cfg)
    model = ckpt.model
    out = cfg.root
    out.mkdir(parents=True, exist_ok=True)
    n = len(train_data["ids"])
    steps_per_epoch = math.ceil(n / cfg.batch_size)
    total = steps_per_epoch * cfg.epochs
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)

    def lr_at(step: int) -> float:
        if step < cfg.warmup_steps:
            return (step + 1) / cfg.warmup_steps
        return 0.5 * (
            1 + math.cos(math.pi * min(1.0, (step - cfg.warmup_steps) / max(1, total - cfg.warmup_steps)))
        )

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    state_path = out / "train_state.pt"
    hist: list[dict[str, float]] = []
    epoch, best, bad = 0, float("inf"), 0
    if state_path.exists():
        st = torch.load(state_path, weights_only=False)
        if st["config"] != asdict(cfg):
            from mistvla.harness.errors import ConfigError

            raise ConfigError(f"output_dir: {out} holds a run with another config; choose another name")
        model.load_state_dict(st["model"])
        opt.load_state_dict(st["opt"])
        sched.load_state_dict(st["sched"])
        epoch, best, bad, hist = st["epoch"], st["best"], st["bad"], st["history"]
    t0 = time.perf_counter()
    bar = tqdm(total=cfg.epochs, initial=epoch, desc="train", unit="epoch", disable=not progress)
    while epoch < cfg.epochs and bad < cfg.patience:
        model.train()
        gen = torch.Generator().manual_seed(cfg.seed * 1000 + epoch)
        perm = torch.randperm(n, generator=gen)
        running = 0.0
        for i in range(steps_per_epoch):
            idx = perm[i * cfg.batch_size : (i + 1) * cfg.batch_size]
            loss = loss_fn(model, {k: v[idx] for k, v in train_data.items()})
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            running += float(loss.detach())
        epoch += 1
        val_loss = evaluate(model, val_data)
        hist.append({"epoch": epoch, "train_loss": running / steps_per_epoch, "val_loss": val_loss})
        if val_loss < best:
            best, bad = val_loss, 0
            ckpt.info["metrics"] = {"best_val_loss": best, "epoch": epoch, "history": hist}
            save_checkpoint(out / "checkpoint", ckpt)
        else:
            bad += 1
        _save_state(
            state_path,
            {"config": asdict(cfg), "model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
             "epoch": epoch, "best": best, "bad": bad, "history": hist},
        )  # fmt: skip
        bar.update(1)
        bar.set_postfix(train=f"{hist[-1]['train_loss']:.4f}", val=f"{val_loss:.4f}", best=f"{best:.4f}")
        if (time.perf_counter() - t0) / 60 > cfg.max_minutes:
            break
    bar.close()
    return out / "checkpoint"
