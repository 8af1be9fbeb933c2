"""Reference policy vs scripted expert: policy step latency and env+policy steps/s, same process, same episodes.

Alternates one episode of each policy per block on the same task and init
state (so machine noise hits both alike) and prints medians and the ratio.

    .venv/bin/python benchmarks/reference_policy_speed.py \
        [--checkpoint experiments/artifacts/reference/libero_spatial] [--blocks 3] [--steps 100]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("MUJOCO_GL", "egl")

from mistvla.harness.envs.libero import LiberoEnv
from mistvla.policies.reference.policy import ReferencePolicy
from mistvla.policies.scripted.expert import ScriptedExpert


def episode(env: LiberoEnv, policy, steps: int, init_state: int) -> tuple[float, float]:
    """(median policy ms per step, env+policy steps per second)."""
    obs, _ = env.reset(seed=0, options={"init_state": init_state})
    policy.bind(env)
    policy.reset(env.instruction, seed=0)
    lat, t0, n = [], time.perf_counter(), 0
    for _ in range(steps):
        t = time.perf_counter()
        action = policy.select_action(obs)
        lat.append(time.perf_counter() - t)
        obs, _, term, trunc, _ = env.step(action)
        n += 1
        if term or trunc:
            break
    return 1000 * statistics.median(lat), n / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", default="experiments/artifacts/reference/libero_spatial")
    ap.add_argument("--blocks", type=int, default=3)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--init-state", type=int, default=40)
    args = ap.parse_args()
    env = LiberoEnv("libero_spatial", 0, cameras=(), privileged=True, max_steps=args.steps)
    policies = {"scripted": ScriptedExpert(), "reference": ReferencePolicy(args.checkpoint)}
    res: dict[str, list[tuple[float, float]]] = {k: [] for k in policies}
    for _ in range(args.blocks):
        for name, pol in policies.items():
            res[name].append(episode(env, pol, args.steps, args.init_state))
    env.close()
    med = {
        k: (statistics.median(r[0] for r in v), statistics.median(r[1] for r in v)) for k, v in res.items()
    }
    for k, (ms, sps) in med.items():
        print(f"{k:10s} policy step {ms:7.2f} ms   env+policy {sps:6.1f} steps/s")
    print(f"ratio reference/scripted: latency x{med['reference'][0] / med['scripted'][0]:.1f}, "
          f"throughput x{med['reference'][1] / med['scripted'][1]:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
