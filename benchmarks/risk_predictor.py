"""Learned risk predictor: dataset build and training throughput on synthetic 4096-D float16 shards, peak RSS
against the data size, and the learned source's cost per step against a policy-sized forward.

(1) Writes a synthetic run (ResultsStore, float16 shards, ``--steps`` rows of ``--hidden``-D), builds the
dataset (index + labels; shards stay memory-mapped), trains ``--epochs`` epochs, and prints samples/s and
peak RSS as a fraction of the shard bytes. (2) Times ``LearnedRisk.risk`` on one hidden vector against one
forward of a Llama-sized MLP block stack of the same width (``--layers`` x (4096 -> 11008 -> 4096)), a lower
bound on a 7B policy's per-step forward: the ratio is an upper bound on the overhead. Target: under 2 %.

    .venv/bin/python benchmarks/risk_predictor.py --steps 200000 --hidden 4096
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=200_000)
    ap.add_argument("--hidden", type=int, default=4096)
    ap.add_argument("--episode-steps", type=int, default=200)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--max-batches", type=int, default=200)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--dir", default=None)
    args = ap.parse_args()
    from mistvla.harness.risk.base import RiskConfig, make_risk_source
    from mistvla.harness.risk.learned.dataset import build_dataset
    from mistvla.harness.risk.learned.labels import LabelSpec
    from mistvla.harness.risk.learned.synthetic import write_synthetic_run
    from mistvla.harness.risk.learned.train import TrainConfig, train

    root = Path(args.dir or tempfile.mkdtemp(prefix="riskbench-"))
    n_eps = args.steps // args.episode_steps
    t0 = time.perf_counter()
    run = write_synthetic_run(
        root / "run",
        n_episodes=n_eps,
        n_steps=args.episode_steps,
        hidden_size=args.hidden,
        failure_rate=0.5,
        lead=20,
    )
    t_write = time.perf_counter() - t0
    shard_bytes = sum(p.stat().st_size for p in (root / "run" / "hidden").rglob("*.npy"))
    rss0 = _rss_mb()
    t0 = time.perf_counter()
    ds = build_dataset(
        [run], "llm.blocks.1.resid_post", "last_prompt", root / "ds", LabelSpec(types=("any",))
    )
    t_build = time.perf_counter() - t0
    print(
        f"data: {len(ds)} steps x {args.hidden} float16 = {shard_bytes / 2**30:.2f} GiB in {n_eps} episodes "
        f"(written in {t_write:.0f} s)"
    )
    print(
        f"dataset build: {t_build:.1f} s, {len(ds) / t_build:.0f} steps/s; peak RSS {rss0:.0f} -> {_rss_mb():.0f} MB"
    )
    cfg = TrainConfig(epochs=args.epochs, max_batches_per_epoch=args.max_batches, min_positives=1)
    meta = train(ds, root / "ckpt", cfg, log=lambda *_: None)
    rss = _rss_mb()
    print(
        f"training: {meta['metrics']['samples_per_s']:.0f} samples/s (batch 256, {args.max_batches} batches/epoch); "
        f"peak RSS {rss:.0f} MB = {rss * 2**20 / shard_bytes:.3f} x the shard bytes"
    )
    source = make_risk_source(RiskConfig("learned", {"checkpoint": str(root / "ckpt")}))
    h = np.random.default_rng(0).standard_normal(args.hidden).astype(np.float32)
    obs = {"hidden": {source.feature: h}}
    blocks = torch.nn.Sequential(
        *[
            torch.nn.Sequential(
                torch.nn.Linear(args.hidden, 11008), torch.nn.SiLU(), torch.nn.Linear(11008, args.hidden)
            )
            for _ in range(args.layers)
        ]
    )
    x = torch.randn(1, 1, args.hidden)
    t_src, t_fwd = [], []
    with torch.no_grad():
        for _ in range(20):
            t = time.perf_counter()
            source.risk(obs)
            t_src.append(time.perf_counter() - t)
            t = time.perf_counter()
            blocks(x)
            t_fwd.append(time.perf_counter() - t)
    s, f = statistics.median(t_src), statistics.median(t_fwd)
    print(
        f"risk in the loop: learned source {s * 1e3:.2f} ms/step; {args.layers} Llama-width MLP blocks "
        f"{f * 1e3:.1f} ms (a 7B policy step has 32 blocks plus attention, decoding 7 tokens): "
        f"ratio vs {args.layers} blocks {s / f:.3f}, vs 32 blocks x 7 tokens (extrapolated) {s / (f * 8 * 7):.4f}"
    )
    if args.dir is None:
        shutil.rmtree(root)


if __name__ == "__main__":
    main()
