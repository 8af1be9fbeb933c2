"""The learned risk source's cost in the episode loop, as a ratio to the policy's forward (issue 25: <= 2 %).

Runs real episodes of ``experiments/mist.yaml`` with ``risk.source=learned`` (the shipped gate,
``experiments/artifacts/risk/reference``) in one process on the profiled worker
(:mod:`mistvla.harness.run.profile`). On alternate steps the source scores with the previous in-loop scorer
(torch for every step, under ``inference_mode``, the thread count set and reset per call; kept here as
``legacy``) or with the current :class:`~mistvla.harness.risk.learned.source.HiddenScorer`; both are cold in
the same way (one call per step, the policy's forward and the simulator in between), every step asserts the
two give the same bits, and the current one's values are recorded. Printed: ``LearnedRisk.risk`` per call
(median and mean, each scorer), the policy forward per step from the same run, and their ratios.

    .venv/bin/python benchmarks/risk_scoring_cost.py [--episodes 2]

BLAS/OpenMP pinned to one thread as in the harness's workers. Nothing is asserted about time.
"""

from __future__ import annotations

import os

for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(var, "1")
os.environ.setdefault("MUJOCO_GL", "egl")

import argparse  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

CKPT = "experiments/artifacts/risk/reference"


def legacy(scorer, hidden: np.ndarray) -> tuple[float, np.ndarray]:
    """The scorer before this benchmark (commit 31a3d45): every step in torch."""
    import torch
    import torch.nn.functional as F

    x = torch.from_numpy(np.asarray(hidden, dtype=np.float16).reshape(1, -1)).float()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.inference_mode():
            mean, std = torch.from_numpy(scorer.mean), torch.from_numpy(scorer.std)
            z = F.gelu(F.linear(F.layer_norm((x - mean) / std, *scorer.ln), *scorer.lin))
            score = torch.sigmoid(F.linear(z, *scorer.binary)[0, scorer.col])
            per_dim = (score * torch.sigmoid(F.linear(z, *scorer.dims)[0])).numpy()
    finally:
        torch.set_num_threads(threads)
    per_dim[6:] = 0.0
    return float(score), per_dim


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", default="experiments/mist.yaml")
    ap.add_argument("--checkpoint", default=CKPT)
    ap.add_argument("--episodes", type=int, default=2)
    args = ap.parse_args()

    import torch

    from mistvla.harness.config.run import load_config
    from mistvla.harness.risk.learned import source as src
    from mistvla.harness.run.plan import plan_episodes
    from mistvla.harness.run.profile import profile_episodes

    torch.set_num_threads(1)
    times: dict[str, list[float]] = {"legacy": [], "current": []}
    original_risk = src.LearnedRisk.risk
    step = {"n": 0}

    def risk(self, obs):  # the whole source call (lookup, context, scorer, signal), timed per step
        current = self.scorer
        which = "legacy" if step["n"] % 2 == 0 else "current"
        step["n"] += 1
        if which == "legacy":
            self.scorer = lambda h: legacy(current, h)
        t0 = time.perf_counter()
        try:
            out = original_risk(self, obs)
        finally:
            times[which].append(time.perf_counter() - t0)
            self.scorer = current
        other = (current if which == "legacy" else (lambda h: legacy(current, h)))(
            self.context.states[-1] if self.context.spec.steps > 1 else obs["hidden"][self.feature]
        )
        assert float(out.score) == other[0] and out.per_dim.tobytes() == other[1].tobytes()
        return out

    src.LearnedRisk.risk = risk
    sets = ["risk.source=learned", f"risk.params={{checkpoint: {args.checkpoint}}}"]
    cfg = load_config(args.config, sets)
    specs = plan_episodes(cfg)[: args.episodes]
    with tempfile.TemporaryDirectory() as tmp:
        prof = profile_episodes(cfg, specs, Path(tmp) / "store")
    policy_ms = 1e3 * prof["seconds"]["policy"] / prof["calls"]["policy"]
    load = os.getloadavg()[0]
    print(
        f"{args.config} + learned gate {args.checkpoint}: {prof['episodes']} episodes, {prof['steps']} steps, "
    )
    print(f"load average {load:.2f} on {os.cpu_count()} CPUs; policy forward {policy_ms:.2f} ms/step")
    print("| scorer | calls | risk() median ms | mean ms | median / forward | mean / forward |")
    print("|---|---:|---:|---:|---:|---:|")
    for k, v in times.items():
        med, mean = 1e3 * statistics.median(v), 1e3 * statistics.fmean(v)
        print(f"| {k} | {len(v)} | {med:.3f} | {mean:.3f} | {med / policy_ms:.4f} | {mean / policy_ms:.4f} |")
    print("(every step's score and per-dimension risk bit-identical between the two)")


if __name__ == "__main__":
    main()
