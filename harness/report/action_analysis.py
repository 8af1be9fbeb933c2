"""Per-dimension action analysis of a policy against a demonstration dataset (partial mode collapse).

For each action dimension: R², MAE, the std of the predictions over the std
of the labels, and a collapse flag when that ratio is below ``collapse_ratio``
(a dimension predicted as a near-constant while the data varies). A dimension
that is near-constant in the data itself is reported as such, never flagged.
``mistvla analyze-actions`` writes ``summary.json`` and time-series, scatter
and error-histogram PNGs.

>>> rng = np.random.default_rng(0)
>>> y = rng.normal(size=(500, 2))
>>> [d["collapsed"] for d in per_dimension(y + 0.1 * rng.normal(size=y.shape), y, ("a", "b"))]
[False, False]
>>> [d["collapsed"] for d in per_dimension(np.zeros_like(y) + y.mean(0), y, ("a", "b"))]
[True, True]
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

NEAR_CONSTANT_STD = 1e-3


def per_dimension(
    pred: np.ndarray, true: np.ndarray, names: Sequence[str], collapse_ratio: float = 0.3
) -> list[dict[str, Any]]:
    """One row per dimension: r2, mae, pred_std, true_std, std_ratio, collapsed, near_constant_in_data."""
    rows = []
    for j, name in enumerate(names):
        p, t = pred[:, j].astype(np.float64), true[:, j].astype(np.float64)
        t_std, p_std = float(t.std()), float(p.std())
        ss_tot = float(((t - t.mean()) ** 2).sum())
        r2 = 1.0 - float(((t - p) ** 2).sum()) / ss_tot if ss_tot > 0 else float("nan")
        ratio = p_std / t_std if t_std > 0 else float("nan")
        near_constant = t_std < NEAR_CONSTANT_STD
        rows.append(
            {
                "dim": name, "r2": r2, "mae": float(np.abs(t - p).mean()), "pred_std": p_std, "true_std": t_std,
                "std_ratio": ratio, "near_constant_in_data": near_constant,
                "collapsed": bool(not near_constant and ratio < collapse_ratio),
            }
        )  # fmt: skip
    return rows


def observation_from_vectors(
    state: np.ndarray, env: np.ndarray, object_names: Sequence[str]
) -> dict[str, Any]:
    """The env observation a dataset frame was recorded from (proprioception + privileged poses)."""
    poses = {n: env[7 * i : 7 * i + 7].astype(np.float64) for i, n in enumerate(object_names)}
    return {
        "proprio": {"eef_pos": state[:3], "eef_axis_angle": state[3:6], "gripper_qpos": state[6:8]},
        "privileged": {n: p for n, p in poses.items() if np.abs(p).sum() > 0},
    }


def predict_frames(policy: Any, frames: Any) -> np.ndarray:
    """The policy's action for every frame, reset at each episode start with its instruction."""
    out = np.zeros_like(frames.action)
    current = None
    for i in range(len(frames.action)):
        if frames.episode[i] != current:
            current = frames.episode[i]
            policy.reset(frames.instruction[i], seed=int(current))
        out[i] = policy.select_action(
            observation_from_vectors(frames.state[i], frames.env[i], frames.object_names)
        )
    return out


def write_plots(
    pred: np.ndarray, true: np.ndarray, episode: np.ndarray, names: Sequence[str], out: Path
) -> list[Path]:
    """time_series.png (first episode), scatter.png, error_hist.png."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    first = episode == episode[0]
    for kind in ("time_series", "scatter", "error_hist"):
        fig, axes = plt.subplots(1, len(names), figsize=(3 * len(names), 2.8))
        for j, ax in enumerate(np.atleast_1d(axes)):
            if kind == "time_series":
                ax.plot(true[first, j], label="demo")
                ax.plot(pred[first, j], label="policy")
            elif kind == "scatter":
                ax.scatter(true[:, j], pred[:, j], s=2, alpha=0.3)
                ax.plot([-1, 1], [-1, 1], "k--", lw=0.8)
            else:
                ax.hist(pred[:, j] - true[:, j], bins=50)
            ax.set_title(names[j])
        if kind == "time_series":
            np.atleast_1d(axes)[0].legend(fontsize=7)
        fig.tight_layout()
        path = out / f"{kind}.png"
        fig.savefig(path, dpi=80)
        plt.close(fig)
        paths.append(path)
    return paths


def analyze_actions(
    policy: Any,
    datasets: list[str],
    out_dir: str | Path,
    split: str = "val",
    collapse_ratio: float = 0.3,
    val_init_states: list[int] | None = None,
) -> dict[str, Any]:
    """Predict every frame of ``split`` (``val``, ``train`` or ``all``), write summary.json and PNGs.

    The validation init states are ``val_init_states``, else those of the
    policy's checkpoint (``policy.ckpt.split``), else the dataset's split.
    """
    from mistvla.harness.envs.vectors import ACTION_NAMES
    from mistvla.policies.reference.data import load_many, split_masks

    frames = load_many(datasets)
    if val_init_states is None and getattr(policy, "ckpt", None) is not None:
        val_init_states = (
            policy.ckpt.split.get("val") if policy.ckpt.split.get("by") == "init_state" else None
        )
    train_mask, val_mask, _ = split_masks(frames, val_init_states)
    if split != "all":
        frames = frames.select(val_mask if split == "val" else train_mask)
    pred = predict_frames(policy, frames)
    rows = per_dimension(pred, frames.action, ACTION_NAMES, collapse_ratio)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary = {
        "datasets": datasets, "split": split, "val_init_states": val_init_states, "n_frames": len(pred),
        "collapse_ratio": collapse_ratio,
        "dimensions": rows, "any_collapsed": any(r["collapsed"] for r in rows),
    }  # fmt: skip
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    write_plots(pred, frames.action, frames.episode, ACTION_NAMES, out)
    return summary


def format_table(rows: list[dict[str, Any]]) -> str:
    """Markdown table of :func:`per_dimension` rows."""
    lines = ["| dim | R² | MAE | pred std / data std | collapsed |", "|---|---|---|---|---|"]
    for r in rows:
        flag = (
            "near-constant in data" if r["near_constant_in_data"] else ("**yes**" if r["collapsed"] else "no")
        )
        lines.append(f"| {r['dim']} | {r['r2']:.3f} | {r['mae']:.3f} | {r['std_ratio']:.2f} | {flag} |")
    return "\n".join(lines)
