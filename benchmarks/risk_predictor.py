"""Learned risk predictor: dataset build and training throughput on synthetic 4096-D float16 shards, peak RSS
against the data size, and the learned source's cost per step against a policy-sized forward.

(1) Writes a synthetic run (ResultsStore, float16 shards, ``--steps`` requested rows of ``--hidden``-D;
failed episodes end at their collision, so about 0.65x that many are written), then builds the dataset
(index + labels; shards stay memory-mapped) and trains ``--epochs`` epochs, each in a fresh process as
``mistvla risk dataset`` / ``risk train`` would run: the peak RSS printed is that process's own
(``ru_maxrss``, imports included), as a fraction of the shard bytes, and also what the work added over
the process after its imports. Training samples/s are given beside the same training steps on in-RAM
random batches (ratio = how much reading rows through the memory maps costs). With ``--dir`` an existing
run there is reused (writing is not measured).

(2) Times ``LearnedRisk.risk`` on one hidden vector against one forward of a Llama-sized MLP block stack of
the same width (``--layers`` x (4096 -> 11008 -> 4096)), a lower bound on a 7B policy's per-step forward,
so the ratio is an upper bound on the overhead; beside it the checkpoint's module forward on the same
vector (the source before ``HiddenScorer``). The three are interleaved per repetition and the ratios are
medians of per-repetition ratios. Target: under 2 %.

    .venv/bin/python benchmarks/risk_predictor.py --steps 340000 --hidden 4096
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import shutil
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

POINT, POS = "llm.blocks.1.resid_post", "last_prompt"


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _in_child(fn, *args):
    """Run ``fn(*args)`` in a fresh (spawned) process and return its result."""
    with ProcessPoolExecutor(1, mp_context=mp.get_context("spawn")) as ex:
        return ex.submit(fn, *args).result()


def _build(run: str, out: str) -> dict:
    from mistvla.harness.risk.learned.dataset import build_dataset
    from mistvla.harness.risk.learned.labels import LabelSpec

    rss0 = _rss_mb()
    t0 = time.perf_counter()
    ds = build_dataset([run], POINT, POS, out, LabelSpec(types=("any",)))
    return {"s": time.perf_counter() - t0, "rows": len(ds), "rss0": rss0, "rss": _rss_mb()}


def _train(ds_dir: str, ckpt: str, epochs: int, max_batches: int) -> dict:
    import torch
    import torch.nn.functional as F

    from mistvla.harness.risk.learned.model import ModelConfig, RiskMLP
    from mistvla.harness.risk.learned.train import TrainConfig, train

    rss0 = _rss_mb()
    cfg = TrainConfig(epochs=epochs, max_batches_per_epoch=max_batches, min_positives=1)
    meta = train(ds_dir, ckpt, cfg, log=lambda *_: None)
    rss = _rss_mb()
    # the same steps on in-RAM random batches: the compute alone
    hidden = meta["feature"]["hidden_size"]
    net = RiskMLP(ModelConfig(hidden, cfg.hidden, 4, 1, 7, cfg.dropout))
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    x, y = torch.randn(cfg.batch_size, hidden), torch.randint(0, 2, (cfg.batch_size, 4, 1)).float()
    yd = torch.randint(0, 2, (cfg.batch_size, 7)).float()
    n = min(max_batches, 40)
    for i in range(n + 3):
        if i == 3:
            t0 = time.perf_counter()
        logits, d = net(x)
        loss = F.binary_cross_entropy_with_logits(logits, y) + F.binary_cross_entropy_with_logits(d, yd)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), cfg.grad_clip)
        opt.step()
    ram = n * cfg.batch_size / (time.perf_counter() - t0)
    return {
        "samples_per_s": meta["metrics"]["samples_per_s"],
        "ram_samples_per_s": ram,
        "rss0": rss0,
        "rss": rss,
    }


def _write(root: Path, args) -> Path:
    from mistvla.harness.risk.learned.synthetic import write_synthetic_run

    marker = root / "written.json"
    want = {"steps": args.steps, "hidden": args.hidden, "episode_steps": args.episode_steps}
    if marker.exists() and json.loads(marker.read_text()) == want:
        print(f"reusing the synthetic run in {root / 'run'}")
        return root / "run"
    shutil.rmtree(root / "run", ignore_errors=True)
    t0 = time.perf_counter()
    run = write_synthetic_run(
        root / "run",
        n_episodes=args.steps // args.episode_steps,
        n_steps=args.episode_steps,
        hidden_size=args.hidden,
        failure_rate=0.5,
        lead=20,
    )
    marker.write_text(json.dumps(want))
    print(f"wrote the synthetic run in {time.perf_counter() - t0:.0f} s")
    return run


def _overhead(ckpt: Path, hidden: int, layers: int, reps: int) -> None:
    import torch

    from mistvla.harness.risk.base import RiskConfig, make_risk_source

    source = make_risk_source(RiskConfig("learned", {"checkpoint": str(ckpt)}))
    h = np.random.default_rng(0).standard_normal((1, hidden)).astype(np.float32)
    obs = {"hidden": {source.feature: h}}
    blocks = torch.nn.Sequential(
        *[
            torch.nn.Sequential(
                torch.nn.Linear(hidden, 11008), torch.nn.SiLU(), torch.nn.Linear(11008, hidden)
            )
            for _ in range(layers)
        ]
    )
    x = torch.randn(1, 1, hidden)

    def module_path() -> None:  # the source before HiddenScorer: the checkpoint's nn.Module forward
        xin = torch.as_tensor(np.asarray(h, dtype=np.float16).astype(np.float32).reshape(1, -1))
        with torch.no_grad():
            logits, dims = source.model(xin)
        score = float(torch.sigmoid(logits[0, source.column[0], source.column[1]]))
        (score * torch.sigmoid(dims[0])).numpy().astype(np.float32)

    def policy() -> None:
        with torch.no_grad():
            blocks(x)

    fns = {"source": lambda: source.risk(obs), "module": module_path, "policy": policy}
    times: dict[str, list[float]] = {k: [] for k in fns}
    for f in fns.values():
        f()
    for _ in range(reps):
        for k, f in fns.items():
            t = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t)
    med = {k: statistics.median(v) for k, v in times.items()}
    ratio = statistics.median(s / p for s, p in zip(times["source"], times["policy"], strict=True))
    ratio_mod = statistics.median(s / p for s, p in zip(times["module"], times["policy"], strict=True))
    print(
        f"risk in the loop: learned source {med['source'] * 1e3:.3f} ms/step (module forward "
        f"{med['module'] * 1e3:.3f} ms); {layers} Llama-width MLP blocks {med['policy'] * 1e3:.1f} ms "
        f"(a 7B policy step has 32 blocks plus attention, decoding 7 tokens)"
    )
    print(
        f"  ratio vs {layers} blocks: source {ratio:.4f} (module forward {ratio_mod:.4f}); "
        f"vs 32 blocks x 7 tokens (extrapolated) {ratio / (8 * 7):.5f}"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=340_000, help="requested rows (about 0.65x are written)")
    ap.add_argument("--hidden", type=int, default=4096)
    ap.add_argument("--episode-steps", type=int, default=200)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--max-batches", type=int, default=200)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--dir", default=None, help="keep the data here (and reuse the run on the next call)")
    args = ap.parse_args()
    root = Path(args.dir or tempfile.mkdtemp(prefix="riskbench-"))
    root.mkdir(parents=True, exist_ok=True)
    run = _write(root, args)
    shard_bytes = sum(p.stat().st_size for p in (run / "hidden").rglob("*.npy"))
    shutil.rmtree(root / "ds", ignore_errors=True)
    b = _in_child(_build, str(run), str(root / "ds"))
    gib = shard_bytes / 2**30
    print(
        f"data: {b['rows']} steps x {args.hidden} float16 = {gib:.2f} GiB in {args.steps // args.episode_steps} episodes"
    )
    print(
        f"dataset build: {b['s']:.1f} s, {b['rows'] / b['s']:.0f} steps/s; peak RSS {b['rss']:.0f} MB "
        f"({b['rss0']:.0f} after imports) = {b['rss'] * 2**20 / shard_bytes:.3f} x the shard bytes"
    )
    t = _in_child(_train, str(root / "ds"), str(root / "ckpt"), args.epochs, args.max_batches)
    print(
        f"training: {t['samples_per_s']:.0f} samples/s (batch 256, {args.max_batches} batches/epoch) = "
        f"{t['samples_per_s'] / t['ram_samples_per_s']:.2f} x the same steps on in-RAM batches "
        f"({t['ram_samples_per_s']:.0f} samples/s)"
    )
    print(
        f"  peak RSS {t['rss']:.0f} MB = {t['rss'] * 2**20 / shard_bytes:.3f} x the shard bytes; "
        f"{t['rss'] - t['rss0']:.0f} MB over the process after imports ({t['rss0']:.0f} MB) = "
        f"{(t['rss'] - t['rss0']) * 2**20 / shard_bytes:.3f} x"
    )
    _overhead(root / "ckpt", args.hidden, args.layers, args.reps)
    if args.dir is None:
        shutil.rmtree(root)


if __name__ == "__main__":
    main()
