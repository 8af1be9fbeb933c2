"""The policy server's overhead: Ray env actors each holding the policy vs one policy actor serving them.

The same plan (reference policy from the shipped checkpoint, ``--tasks`` tasks
x ``--init-states`` init states of ``--steps`` steps, rendering off, the base
policy only) runs on a local Ray cluster of ``--cpus`` CPUs (started once, not
timed) with ``--workers`` env actors: first with the policy in every env actor,
then with ``executor.policy_server`` (``--max-batch``, ``--wait-ms``), each
``--repeats`` times, alternating. Timed from the actors' start to the last
result (``start_s``: until the actors are constructed; without a server the
policy loads at the first episode, with one when the server starts), so the
totals compare. Prints seconds, steps/s over the total and the server's mean
batch size.

    .venv/bin/python benchmarks/policy_server.py [--workers 2] [--steps 60] [--max-batch 2] [--wait-ms 5]
    .venv/bin/python benchmarks/policy_server.py --steps 100 --lockstep 2 --max-batch 4 --repeats 1
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import ray

from mistvla.harness.config.run import parse_config
from mistvla.harness.run.plan import plan_episodes
from mistvla.harness.run.ray_cluster import init_private_cluster
from mistvla.harness.run.ray_executor import RayPool

CHECKPOINT = Path(__file__).resolve().parents[1] / "experiments/artifacts/reference/libero_spatial"


def measure(args: argparse.Namespace, server: dict | None) -> dict[str, float]:
    cfg = parse_config(
        {
            "name": "psbench",
            "policy": {"name": "reference", "params": {"checkpoint": str(CHECKPOINT)}},
            "episodes": {"suite": "libero_spatial", "tasks": list(range(args.tasks)),
                         "init_states": list(range(args.init_states))},
            "env": {"max_steps": args.steps},
            "executor": {"kind": "ray", "policy_server": server},
            "lockstep": args.lockstep,
        }
    )  # fmt: skip
    specs = plan_episodes(cfg)
    with RayPool(cfg, args.workers) as pool:
        t0 = time.perf_counter()
        pool._start()
        ray.get([a.pid.remote() for a in pool._actors])  # actors constructed (policy or stand-in loaded)
        t1 = time.perf_counter()
        results = list(pool.run(specs, {"none": None}))
        t2 = time.perf_counter()
        stats = pool.server_stats()
    steps = sum(r.record["steps"] for r in results)
    out = {"start_s": t1 - t0, "total_s": t2 - t0, "steps": steps, "steps_per_s": steps / (t2 - t0)}
    if stats:
        out["mean_batch"] = sum(s["items"] for s in stats) / max(1, sum(s["batches"] for s in stats))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--cpus", type=int, default=2)
    ap.add_argument("--tasks", type=int, default=2)
    ap.add_argument("--init-states", type=int, default=2)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--max-batch", type=int, default=2)
    ap.add_argument("--wait-ms", type=float, default=5.0)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--lockstep", type=int, default=1, help="episodes each env actor runs side by side")
    args = ap.parse_args()
    init_private_cluster(num_cpus=args.cpus)
    try:
        server = {"num_cpus": 0, "max_batch": args.max_batch, "wait_ms": args.wait_ms}
        for _ in range(args.repeats):
            for label, srv in (("policy in each env actor", None), ("policy server", server)):
                print(label, {k: round(v, 3) for k, v in measure(args, srv).items()}, flush=True)
    finally:
        ray.shutdown()


if __name__ == "__main__":
    main()
