"""The check's figures: ``dose_response.png`` (each dimension's response to each steered one) and
``selectivity.png`` (the 6 x 7 matrix of normalised mean ``|Δa_j|`` at the largest strength)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

DIM_NAMES = ("x", "y", "z", "roll", "pitch", "yaw", "gripper")


def write_plots(result: Any, summary: dict[str, Any], out: Path, title: str) -> None:
    """Both figures of one :class:`~mistvla.harness.steering.check.CheckResult` into ``out``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = result.delta.shape[0]
    spread = np.asarray(summary["signed"]["spread"] + [1.0])
    fig, axes = plt.subplots(1, n, figsize=(3.0 * n, 2.8), sharey=True)
    for d, ax in enumerate(np.atleast_1d(axes)):
        for j in range(6):
            mean = result.delta[d, :, :, j].mean(axis=1) / spread[j]
            ax.plot(result.alphas, mean, lw=2.5 if j == d else 0.8, label=DIM_NAMES[j])
        ax.plot(result.alphas, summary["signed"]["intended"][d], "k--", lw=1, label="intended")
        ax.set_title(f"steer {DIM_NAMES[d]}: {'pass' if summary['signed']['passes'][d] else 'FAIL'}")
        ax.set_xlabel(f"strength ({result.mode})")
        ax.axhline(0, color="grey", lw=0.5)
    np.atleast_1d(axes)[0].set_ylabel("mean Δa_j / spread_j")
    np.atleast_1d(axes)[-1].legend(fontsize=6)
    fig.suptitle(title or "dose-response")
    fig.tight_layout()
    fig.savefig(out / "dose_response.png", dpi=80)
    plt.close(fig)
    sel = np.asarray(summary["selectivity"])
    fig, ax = plt.subplots(figsize=(5.5, 4.2))
    im = ax.imshow(sel, cmap="viridis")
    ax.set_xticks(range(7), DIM_NAMES)
    ax.set_yticks(range(n), [f"steer {name}" for name in DIM_NAMES[:n]])
    for d in range(n):
        for j in range(7):
            ax.text(j, d, f"{sel[d, j]:.3f}", ha="center", va="center", fontsize=6, color="w")
    ax.set_title(f"mean |Δa_j|/spread (gripper: flips) at {result.alphas[-1]} ({summary['n_pass']}/6)")
    fig.colorbar(im, ax=ax)
    fig.tight_layout()
    fig.savefig(out / "selectivity.png", dpi=80)
    plt.close(fig)
