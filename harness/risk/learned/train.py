"""Train the dual-head risk predictor on a dataset, with the sanity checks that run every time.

Order: split by episode (or task / init state) -> label validation per split
(refuses to start on missing positives or labels that disagree with outcomes)
-> normalization from the training split -> epochs of masked BCE / weighted
BCE / focal loss with gradient clipping, early stopping on validation AUC ->
checks -> atomic checkpoint.

Checks: the prediction distribution after the first epoch and at the end (a
constant predictor is a :class:`TrainingError`); F1 = 0 at threshold 0.5 on
the training split while the loss fell is a :class:`TrainingError` pointing
at the labels; validation AUC within 0.05 of 0.5 warns; above 0.99 warns of
leakage and points at the shortcut baselines.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import f1_score, roc_auc_score

from mistvla.harness.errors import ConfigError, TrainingError
from mistvla.harness.risk.learned.context import CachedView, ContextSpec, with_context
from mistvla.harness.risk.learned.dataset import RiskDataset
from mistvla.harness.risk.learned.model import ModelConfig, RiskMLP, predict, save_checkpoint
from mistvla.harness.risk.learned.splits import SplitConfig, check_disjoint, make_split
from mistvla.harness.risk.learned.validation import check_trainable, validate_labels

CHANCE_BAND = 0.05
"""Validation AUC this close to 0.5 warns (labels permuted across episodes land here)."""


@dataclass
class TrainConfig:
    model: str | None = None
    """The dataset's model (policy) to train on; required when the dataset has several."""
    hidden: int = 256
    dropout: float = 0.1
    epochs: int = 30
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 1e-4
    loss: str = "weighted_bce"
    """``bce``, ``weighted_bce`` (positives weighted by negatives/positives per column) or ``focal``."""
    focal_gamma: float = 2.0
    balanced_sampling: bool = False
    dim_loss_weight: float = 0.5
    grad_clip: float = 1.0
    patience: int = 5
    min_positives: int = 20
    max_batches_per_epoch: int | None = None
    seed: int = 0
    split: SplitConfig = field(default_factory=SplitConfig)
    cache_features: bool = False
    """Read the model's hidden states into RAM once (float16, rows x size x 2 bytes) instead of reading every
    batch through the memory maps; for datasets that fit."""
    context: ContextSpec = field(default_factory=ContextSpec)
    """Temporal context: the last ``context.steps`` hidden states (``context.stride`` apart), stacked."""
    distill_weight: float = 0.0
    """> 0: the gate logits also fit the clearance oracle's stored risk of each step (BCE with the oracle's score
    as a soft target, weight ``distill_weight``): a privileged teacher in training only; the predictor still
    reads hidden states alone. Needs runs recorded with ``risk.source: oracle``."""

    def __post_init__(self) -> None:
        if isinstance(self.split, dict):
            self.split = SplitConfig(**self.split)
        if isinstance(self.context, dict):
            self.context = ContextSpec(**self.context)
        if self.loss not in ("bce", "weighted_bce", "focal"):
            raise ConfigError(f"train.loss: 'bce', 'weighted_bce' or 'focal', got {self.loss!r}")
        if self.distill_weight < 0:
            raise ConfigError(f"train.distill_weight: need >= 0, got {self.distill_weight}")


def episode_codes(ds: RiskDataset) -> tuple[np.ndarray, np.ndarray]:
    """The sorted ``run/episode_key`` names and, per row, the index of its name (8 bytes a row, no string)."""
    first: dict[tuple[int, int], int] = {}
    seen = np.fromiter(
        (first.setdefault(p, len(first)) for p in zip(ds._run.tolist(), ds._key_code.tolist(), strict=True)),
        dtype=np.int64,
        count=len(ds._run),
    )
    names = np.array([f"{r}/{ds._key_names[k]}" for r, k in first], dtype=str)
    order = np.argsort(names, kind="stable")
    rank = np.empty(len(names), dtype=np.int64)
    rank[order] = np.arange(len(names))
    return names[order], rank[seen]


def episode_ids(ds: RiskDataset) -> np.ndarray:
    """Per row: ``run/episode_key``."""
    names, codes = episode_codes(ds)
    return names[codes]


def split_groups(ds: RiskDataset) -> dict[str, np.ndarray | None]:
    """Per row: the task (suite-qualified when the dataset spans suites), init state and policy id."""
    names = ds.index.column_names
    task = ds.column("task_index")
    if "suite" in names:
        suite = ds.column("suite")
        if len(np.unique(suite)) > 1:
            task = np.char.add(np.char.add(suite.astype(str), "/"), task.astype(str))
    policy = ds.column("policy_id") if "policy_id" in names else None
    return {"task": task, "init_state": ds.column("init_state"), "policy": policy}


def _oracle_teacher(ds: RiskDataset) -> np.ndarray:
    """The clearance oracle's stored risk per dataset row, in [0, 1] (the distillation target)."""
    column = ds.index["oracle_risk"] if "oracle_risk" in ds.index.column_names else None
    if column is None or column.null_count:
        raise ConfigError(
            "train.distill_weight: the dataset's runs have no stored oracle risk on every step "
            "(collect them with risk.source: oracle)"
        )
    return np.clip(np.asarray(column, dtype=np.float64), 0.0, 1.0)


def _loss(logits: torch.Tensor, y: torch.Tensor, pos_weight: torch.Tensor, cfg: TrainConfig) -> torch.Tensor:
    mask = (y >= 0).float()
    target = y.clamp(min=0).float()
    if cfg.loss == "focal":
        bce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
        p = torch.sigmoid(logits)
        pt = torch.where(target > 0, p, 1 - p)
        alpha = torch.where(target > 0, 0.75, 0.25)
        per = alpha * (1 - pt) ** cfg.focal_gamma * bce
    else:
        pw = pos_weight if cfg.loss == "weighted_bce" else None
        per = F.binary_cross_entropy_with_logits(logits, target, reduction="none", pos_weight=pw)
    return (per * mask).sum() / mask.sum().clamp(min=1)


def _mean_std(
    ds: RiskDataset, rows: np.ndarray, chunk: int = 8192, sub: int = 512
) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and std over ``rows``, reading ``sub`` rows at a time.

    numpy's axis-0 sum adds row after row, so carrying the running sum of a
    ``chunk`` as the first row of the next ``sub`` rows gives bitwise the sums
    of whole chunks, with float64 temporaries of ``sub`` rows instead of ``chunk``.
    """
    s = s2 = None
    for i in range(0, len(rows), chunk):
        cs = cs2 = None
        stop = min(i + chunk, len(rows))
        for j in range(i, stop, sub):
            x = ds.features(rows[j : min(j + sub, stop)]).astype(np.float64)
            if cs is None:
                cs, cs2 = x.sum(0), (x * x).sum(0)
            else:
                cs = np.concatenate([cs[None], x]).sum(0)
                cs2 = np.concatenate([cs2[None], x * x]).sum(0)
        s = cs if s is None else s + cs
        s2 = cs2 if s2 is None else s2 + cs2
    mean = s / len(rows)
    return mean.astype(np.float32), np.sqrt(np.maximum(s2 / len(rows) - mean * mean, 0)).astype(np.float32)


def predict_rows(
    net: RiskMLP, ds: RiskDataset, rows: np.ndarray, batch: int = 4096
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`predict` on dataset ``rows``, reading ``batch`` rows at a time through the memory maps.

    The batches are the ones :func:`predict` forms on the whole array, so the numbers are the same.
    """
    parts = [predict(net, ds.features(rows[i : i + batch]), batch) for i in range(0, len(rows), batch)]
    return np.concatenate([p for p, _ in parts]), np.concatenate([d for _, d in parts])


def _aucs(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """AUC per (horizon, type) column over observed rows; NaN where one class is missing."""
    out = np.full(y.shape[1:], np.nan)
    for j in range(y.shape[1]):
        for k in range(y.shape[2]):
            m = y[:, j, k] >= 0
            if len(np.unique(y[m, j, k])) == 2:
                out[j, k] = roc_auc_score(y[m, j, k], p[m, j, k])
    return out


def _check_not_constant(p: np.ndarray, when: str) -> dict[str, float]:
    spread = float(p.std(axis=0).max()) if len(p) else 0.0  # across rows, for the most varied column
    stats = {"mean": float(p.mean()), "std": spread, "min": float(p.min()), "max": float(p.max())}
    if spread < 1e-5:
        raise TrainingError(
            f"constant predictor {when}: validation scores mean {stats['mean']:.4f} std {stats['std']:.2e}; "
            "check the labels (validation table) and the features"
        )
    return stats


def _batches(rows: np.ndarray, weights: np.ndarray | None, cfg: TrainConfig, rng: np.random.Generator):
    n = len(rows)
    if weights is not None:
        order = rng.choice(n, size=n, replace=True, p=weights / weights.sum())
    else:
        order = rng.permutation(n)
    nb = math.ceil(n / cfg.batch_size)
    if cfg.max_batches_per_epoch:
        nb = min(nb, cfg.max_batches_per_epoch)
    for b in range(nb):
        yield rows[order[b * cfg.batch_size : (b + 1) * cfg.batch_size]]


def train(
    dataset: str | Path | RiskDataset, out: str | Path, cfg: TrainConfig | None = None, log=print
) -> dict[str, Any]:
    """Train on ``dataset`` and write the checkpoint directory ``out``; returns its metadata."""
    cfg = cfg or TrainConfig()
    ds = dataset if isinstance(dataset, RiskDataset) else RiskDataset(Path(dataset))
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    models = sorted(ds.meta["models"])
    model_name = cfg.model or (models[0] if len(models) == 1 else None)
    if model_name not in models:
        raise ConfigError(f"train.model: choose one of {models} (got {cfg.model!r})")
    # integer episode codes in the order of the sorted names: the same split as on the names themselves
    ep_names, ep = episode_codes(ds)
    groups = split_groups(ds)
    task = groups["task"]
    split = make_split(ep, task, groups["init_state"], cfg.split, groups["policy"])
    check_disjoint(split, ep, task, cfg.split.by)
    of_model = ds.column("model") == model_name
    index = ds.index if of_model.all() else ds.index.filter(of_model)
    report = validate_labels(index, ds.y[of_model], ds.spec, split[of_model])
    log(report.table())
    check_trainable(report, cfg.min_positives, splits=("train", "val"))
    tr = np.flatnonzero((split == "train") & of_model)
    va = np.flatnonzero((split == "val") & of_model)
    spec = ds.spec
    in_dim = ds.hidden_size(model_name) * cfg.context.steps
    net = RiskMLP(ModelConfig(in_dim, cfg.hidden, len(spec.horizons), len(spec.types), 7, cfg.dropout))
    raw = ds
    if cfg.cache_features:
        ds = CachedView(ds, np.flatnonzero(of_model))
    ds = with_context(ds, cfg.context)
    net.set_normalization(*_mean_std(ds, tr))
    y_tr = ds.y[tr]
    pos = (y_tr == 1).sum(0).astype(np.float64)
    neg = (y_tr == 0).sum(0).astype(np.float64)
    pos_weight = torch.as_tensor(np.clip(neg / np.maximum(pos, 1), 1, 1e3), dtype=torch.float32)
    weights = None
    if cfg.balanced_sampling:
        anypos = (y_tr == 1).any(axis=(1, 2))
        weights = np.where(anypos, 0.5 / max(anypos.sum(), 1), 0.5 / max((~anypos).sum(), 1))
    teacher = _oracle_teacher(raw) if cfg.distill_weight > 0 else None
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    y_va = ds.y[va]
    history: list[dict[str, Any]] = []
    best = (-1.0, None, -1)
    first_dist = None
    elapsed, n_seen = 0.0, 0  # time in the training batches (reading + steps), not validation
    for epoch in range(cfg.epochs):
        net.train()
        losses = []
        t0 = time.perf_counter()
        for rows in _batches(tr, weights, cfg, rng):
            x = torch.as_tensor(ds.features(rows))
            y = torch.as_tensor(ds.y[rows].astype(np.int64))
            logits, dim_logits = net(x)
            loss = _loss(logits, y, pos_weight, cfg)
            if teacher is not None:
                soft = torch.as_tensor(teacher[rows], dtype=torch.float32)[:, None, None].expand_as(logits)
                loss = loss + cfg.distill_weight * F.binary_cross_entropy_with_logits(logits, soft)
            d = torch.as_tensor(ds.dims[rows].astype(np.int64))[:, :6]
            dmask = (d >= 0).float()
            if dmask.sum() > 0:
                dl = F.binary_cross_entropy_with_logits(
                    dim_logits[:, :6], d.clamp(min=0).float(), reduction="none"
                )
                loss = loss + cfg.dim_loss_weight * (dl * dmask).sum() / dmask.sum()
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), cfg.grad_clip)
            opt.step()
            losses.append(loss.item())
            n_seen += len(rows)
        elapsed += time.perf_counter() - t0
        p_va, _ = predict_rows(net, ds, va)
        aucs = _aucs(y_va, p_va)
        mean_auc = float(np.nanmean(aucs)) if np.isfinite(aucs).any() else float("nan")
        history.append(
            {"epoch": epoch, "loss": float(np.mean(losses)), "val_auc": mean_auc, "val_aucs": aucs.tolist()}
        )
        log(f"epoch {epoch}: loss {np.mean(losses):.4f}  val AUC (mean over horizon x type) {mean_auc:.3f}")
        if epoch == 0:
            first_dist = _check_not_constant(p_va, "after the first epoch")
        if mean_auc > best[0]:
            best = (mean_auc, {k: v.clone() for k, v in net.state_dict().items()}, epoch)
        elif epoch - best[2] >= cfg.patience:
            log(f"early stop: no validation AUC gain for {cfg.patience} epochs (best epoch {best[2]})")
            break
    if best[1] is not None:
        net.load_state_dict(best[1])
    p_va, _ = predict_rows(net, ds, va)
    final_dist = _check_not_constant(p_va, "at the end")
    sub = np.sort(tr[rng.permutation(len(tr))[:20000]])
    p_tr, _ = predict_rows(net, ds, sub)
    y_sub = ds.y[sub]
    m = y_sub >= 0
    f1 = f1_score(y_sub[m], p_tr[m] >= 0.5, zero_division=0)
    if f1 == 0 and len(history) > 1 and history[-1]["loss"] < history[0]["loss"]:
        raise TrainingError(
            "F1 = 0 on the training split at threshold 0.5 while the loss fell "
            f"({history[0]['loss']:.4f} -> {history[-1]['loss']:.4f}): the labels are probably wrong; see the validation table"
        )
    aucs = _aucs(y_va, p_va)
    mean_auc = float(np.nanmean(aucs))
    if abs(mean_auc - 0.5) <= CHANCE_BAND:
        warnings.warn(
            f"validation AUC {mean_auc:.3f} is within {CHANCE_BAND} of chance (0.5): the hidden states do not "
            "predict these labels (labels shuffled across episodes? wrong episode join?)",
            stacklevel=2,
        )
    if mean_auc > 0.99:
        warnings.warn(
            f"validation AUC {mean_auc:.3f} > 0.99: suspect leakage; compare with the shortcut baselines "
            "(mistvla risk eval) before believing it",
            stacklevel=2,
        )
    meta = {
        "feature": {
            "point": ds.meta["point"],
            "position": ds.meta["position"],
            "model": model_name,
            "hidden_size": ds.hidden_size(model_name),
            "context": cfg.context.to_dict(),
        },
        "labels": spec.to_dict(),
        "train": {**asdict(cfg), "split": asdict(cfg.split), "context": cfg.context.to_dict()},
        "split": {s: ep_names[np.unique(ep[split == s])].tolist() for s in ("train", "val", "calib", "test")},
        "dataset": str(raw.root.resolve()),
        "validation": report.to_dict(),
        "metrics": {
            "val_aucs": aucs.tolist(),
            "val_auc_mean": mean_auc,
            "best_epoch": best[2],
            "train_f1_at_0.5": float(f1),
            "pred_first_epoch": first_dist,
            "pred_final": final_dist,
            "samples_per_s": n_seen / elapsed if elapsed > 0 else None,
        },
        "history": history,
    }
    save_checkpoint(out, net, meta)
    log(
        f"checkpoint: {out}  (best epoch {best[2]}, val AUC {mean_auc:.3f}, {n_seen / elapsed:.0f} samples/s)"
    )
    return meta
