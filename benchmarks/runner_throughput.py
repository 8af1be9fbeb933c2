"""Episodes per hour: the runner against a bare env/policy loop, and 1 vs 2 workers.

The bare loop steps the same ``LiberoEnv`` with the same policy and nothing
else; the runner adds the base intervention (``none``), the risk source's
reset, per-step records and result writing. Both run the same episodes in
the same process, alternating, so machine noise hits both alike. Then the
scheduler runs the same plan with 1 and with 2 worker processes (rendering
off), fresh run directories each time.

    .venv/bin/python benchmarks/runner_throughput.py [--policy random] [--episodes 6] [--steps 60]

Target: runner/bare >= 0.95.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from mistvla.harness.config.run import parse_config
from mistvla.harness.envs.libero import LiberoEnv
from mistvla.harness.interventions.base import InterventionConfig, make_intervention
from mistvla.harness.results.identity import EpisodeId
from mistvla.harness.results.store import ResultsStore
from mistvla.harness.risk.constant import ConstantConfig, ConstantRisk
from mistvla.harness.run.episode import run_episode
from mistvla.harness.run.plan import EpisodeSpec
from mistvla.harness.run.scheduler import run
from mistvla.policies.registry import make_policy


def bare(env: LiberoEnv, policy, init_states: list[int], seed: int) -> float:
    t = time.perf_counter()
    for k in init_states:
        obs, _ = env.reset(seed=seed, options={"init_state": k})
        if hasattr(policy, "bind"):
            policy.bind(env)
        policy.reset(env.instruction)
        done = False
        while not done:
            obs, _, term, trunc, _ = env.step(policy.select_action(obs))
            done = term or trunc
    return time.perf_counter() - t


def runner(env: LiberoEnv, policy, init_states: list[int], seed: int, store: ResultsStore, tag: int) -> float:
    t = time.perf_counter()
    for k in init_states:
        spec = EpisodeSpec(
            EpisodeId(policy.name, "none", env.suite, env.task_info.index, k, seed, repeat=tag)
        )
        res = run_episode(
            env,
            policy,
            make_intervention(InterventionConfig.make("none"), None),
            ConstantRisk(ConstantConfig(0.0)),
            spec,
        )
        store.write_episode(res.record, res.steps)
    return time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--policy", default="random")
    parser.add_argument("--episodes", type=int, default=6)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--worker-steps", type=int, default=200, help="steps per episode in the workers part")
    args = parser.parse_args()
    init_states = list(range(args.episodes))
    policy = make_policy(args.policy)
    env = LiberoEnv("libero_spatial", 0, cameras=(), privileged=True, max_steps=args.steps)
    tmp = Path(tempfile.mkdtemp())
    store = ResultsStore.open(tmp / "bench", {"bench": "runner"}, durable=True)
    bare(env, policy, init_states[:1], 0)  # warm-up
    b, r = [], []
    for i in range(args.rounds):
        b.append(bare(env, policy, init_states, 0))
        r.append(runner(env, policy, init_states, 0, store, i))
    store.close()
    env.close()
    bm, rm = statistics.median(b), statistics.median(r)
    n = len(init_states)
    print(f"bare loop : {3600 * n / bm:8.0f} episodes/h ({args.steps} steps each)")
    print(f"runner    : {3600 * n / rm:8.0f} episodes/h")
    print(f"ratio runner/bare (throughput): {bm / rm:.3f}   (target >= 0.95)")

    cfg_data = {
        "name": "bench",
        "policy": {"name": args.policy},
        "episodes": {"suite": "libero_spatial", "tasks": [0, 1], "init_states": init_states},
        "env": {"max_steps": args.worker_steps},
        "risk": {"source": "constant"},
    }
    times = {}
    for workers in (1, 2):
        cfg = parse_config({**cfg_data, "output_dir": str(tmp / f"w{workers}")})
        t = time.perf_counter()
        run(cfg, workers=workers, progress=False)
        times[workers] = time.perf_counter() - t
        print(
            f"scheduler, {workers} worker(s): {3600 * 2 * n / times[workers]:8.0f} episodes/h (incl. env builds)"
        )
    print(f"speed-up 2 vs 1 workers: {times[1] / times[2]:.2f}x")


if __name__ == "__main__":
    main()
