"""Does a steering direction do what it claims? Offline dose-response and selectivity (``mistvla steer check``).

Stored observations are replayed through the policy with each dimension's
vector at a grid of relative strengths (``alphas``); every action dimension's
change against the unsteered action is recorded. Per steered dimension ``d``:

- the **intended effect** at each strength: for ``signed`` directions the mean
  decrease of ``a_d``; otherwise (``magnitude``, ``label``, ``generic``, hand-made)
  the mean decrease of ``|a_d|`` (toward zero motion);
- the **selectivity matrix** (6 x 7) at the largest strength: the mean ``|Δa_j|``
  of every action dimension ``j`` when steering ``d``;
- **pass**: the intended effect is positive and strictly increasing over the
  strength grid, and at the largest strength at least ``ratio`` (2) times the
  largest off-diagonal ``|Δa_j|``. A direction that fails is reported as failing.

>>> intended = np.array([[0.1, 0.2, 0.3], [0.1, 0.05, 0.3]])
>>> off = np.array([0.1, 0.1])
>>> passes(intended, off, 2.0).tolist()
[True, False]
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mistvla.harness.errors import ConfigError
from mistvla.harness.steering.fit import N_MOTION_DIMS, read_fit

DEFAULT_ALPHAS = (0.05, 0.1, 0.2, 0.4, 0.8)
DIM_NAMES = ("x", "y", "z", "roll", "pitch", "yaw", "gripper")


def passes(intended: np.ndarray, off_diagonal: np.ndarray, ratio: float) -> np.ndarray:
    """Per dimension: intended effect positive, strictly increasing in strength, >= ratio x off-diagonal."""
    mono = np.all(np.diff(intended, axis=1) > 0, axis=1) & (intended[:, 0] > 0)
    return mono & (intended[:, -1] >= ratio * off_diagonal)


@dataclass
class CheckResult:
    alphas: list[float]
    delta: np.ndarray
    """(6 steered dims, alphas, observations, 7) steered minus unsteered action."""
    base: np.ndarray
    """(observations, 7) unsteered actions."""
    signed: bool

    @property
    def intended(self) -> np.ndarray:
        """(6, alphas) mean decrease of a_d (signed) or of |a_d|."""
        out = np.zeros((N_MOTION_DIMS, len(self.alphas)))
        for d in range(N_MOTION_DIMS):
            steered = self.base[None, :, d] + self.delta[d, :, :, d]
            if self.signed:
                out[d] = -self.delta[d, :, :, d].mean(axis=1)
            else:
                out[d] = (np.abs(self.base[None, :, d]) - np.abs(steered)).mean(axis=1)
        return out

    @property
    def selectivity(self) -> np.ndarray:
        """(6, 7) mean |Δa_j| when steering d, at the largest strength."""
        return np.abs(self.delta[:, -1]).mean(axis=1)

    def off_diagonal(self) -> np.ndarray:
        sel = self.selectivity.copy()
        sel[np.arange(N_MOTION_DIMS), np.arange(N_MOTION_DIMS)] = -np.inf
        return sel.max(axis=1)

    def summary(self, ratio: float = 2.0) -> dict[str, Any]:
        ok = passes(self.intended, self.off_diagonal(), ratio)
        return {
            "alphas": self.alphas,
            "n_observations": int(self.base.shape[0]),
            "effect": "decrease of a_d" if self.signed else "decrease of |a_d|",
            "ratio": ratio,
            "intended": np.round(self.intended, 5).tolist(),
            "selectivity": np.round(self.selectivity, 5).tolist(),
            "max_off_diagonal": np.round(self.off_diagonal(), 5).tolist(),
            "passes": ok.tolist(),
            "n_pass": int(ok.sum()),
            "mean_signed_delta": np.round(self.delta.mean(axis=2), 5).tolist(),
        }


def _act(policy: Any, instruction: str, obs: dict[str, Any]) -> np.ndarray:
    policy.reset(instruction, seed=0)  # the same seed every call: any policy noise cancels in the deltas
    return np.asarray(policy.select_action(obs), dtype=np.float32)


def dose_response(
    policy: Any,
    samples: Iterable[tuple[str, dict[str, Any]]],
    steering_dir: str | Path,
    alphas: Sequence[float] = DEFAULT_ALPHAS,
) -> CheckResult:
    """Replay ``(instruction, observation)`` samples with each dimension's vectors at every strength."""
    from mistvla.harness.interventions.steer import load_dimension_specs
    from mistvla.hooks import SteeringSpec, steer

    specs = load_dimension_specs(steering_dir)
    fit = read_fit(steering_dir) or {}
    samples = list(samples)
    alphas = [float(a) for a in alphas]
    base = np.stack([_act(policy, ins, obs) for ins, obs in samples])
    delta = np.zeros((N_MOTION_DIMS, len(alphas), len(samples), 7), dtype=np.float32)
    for d, spec in specs.items():
        for k, a in enumerate(alphas):
            scaled = SteeringSpec(spec.vectors, alpha=a, mode="relative", positions=spec.positions)
            with steer(policy.hook_model(), scaled, arch=policy.arch):
                steered = np.stack([_act(policy, ins, obs) for ins, obs in samples])
            delta[d, k] = steered - base
    return CheckResult(alphas, delta, base, signed=fit.get("target") == "signed")


def write_check(
    result: CheckResult, out_dir: str | Path, ratio: float = 2.0, title: str = ""
) -> dict[str, Any]:
    """check.json, selectivity.csv, selectivity.png and dose_response.png in ``out_dir``; returns the summary."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary = result.summary(ratio)
    (out / "check.json").write_text(json.dumps(summary, indent=1))
    lines = ["steered," + ",".join(DIM_NAMES) + ",pass"]
    for d in range(N_MOTION_DIMS):
        cells = [f"{x:.5f}" for x in result.selectivity[d]]
        lines.append(f"{DIM_NAMES[d]}," + ",".join(cells) + f",{summary['passes'][d]}")
    (out / "selectivity.csv").write_text("\n".join(lines) + "\n")
    _plots(result, summary, out, title)
    return summary


def _plots(result: CheckResult, summary: dict[str, Any], out: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, N_MOTION_DIMS, figsize=(3.0 * N_MOTION_DIMS, 2.8), sharey=True)
    for d, ax in enumerate(axes):
        for j in range(7):
            mean = result.delta[d, :, :, j].mean(axis=1)
            ax.plot(result.alphas, mean, lw=2.5 if j == d else 0.8, label=DIM_NAMES[j])
        ax.plot(result.alphas, summary["intended"][d], "k--", lw=1, label="intended")
        ax.set_title(f"steer {DIM_NAMES[d]}: {'pass' if summary['passes'][d] else 'FAIL'}")
        ax.set_xlabel("alpha (relative)")
        ax.axhline(0, color="grey", lw=0.5)
    axes[0].set_ylabel("mean Δ action")
    axes[-1].legend(fontsize=6)
    fig.suptitle(title or "dose-response")
    fig.tight_layout()
    fig.savefig(out / "dose_response.png", dpi=80)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(5.5, 4.2))
    im = ax.imshow(result.selectivity, cmap="viridis")
    ax.set_xticks(range(7), DIM_NAMES)
    ax.set_yticks(range(N_MOTION_DIMS), [f"steer {n}" for n in DIM_NAMES[:N_MOTION_DIMS]])
    for d in range(N_MOTION_DIMS):
        for j in range(7):
            ax.text(j, d, f"{result.selectivity[d, j]:.3f}", ha="center", va="center", fontsize=6, color="w")
    ax.set_title(f"mean |Δa_j| at alpha {result.alphas[-1]} ({summary['n_pass']}/6 pass)")
    fig.colorbar(im, ax=ax)
    fig.tight_layout()
    fig.savefig(out / "selectivity.png", dpi=80)
    plt.close(fig)


def frames_samples(
    datasets: Sequence[str], max_frames: int = 200, split: str = "val"
) -> list[tuple[str, dict]]:
    """Evenly spaced ``(instruction, observation)`` samples of LeRobot demonstration datasets (state policies)."""
    from mistvla.harness.report.action_analysis import observation_from_vectors
    from mistvla.policies.reference.data import load_many, split_masks

    frames = load_many(list(datasets))
    if split != "all":
        train_mask, val_mask, _ = split_masks(frames, None)
        frames = frames.select(val_mask if split == "val" else train_mask)
    if len(frames.action) == 0:
        raise ConfigError(
            f"--split {split}: the datasets {list(datasets)} hold no {split} frames "
            "(their split names init states that were never collected); use --split all or other datasets"
        )
    idx = np.unique(np.linspace(0, len(frames.action) - 1, min(max_frames, len(frames.action))).astype(int))
    return [
        (frames.instruction[i], observation_from_vectors(frames.state[i], frames.env[i], frames.object_names))
        for i in idx
    ]
