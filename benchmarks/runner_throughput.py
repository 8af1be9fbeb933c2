"""Episodes per hour: the runner against a bare env/policy loop; 1 vs 2 workers; local vs Ray.

The bare loop steps the same ``LiberoEnv`` with the same policy and nothing
else; the runner adds the base intervention (``none``), the risk source's
reset, per-step records and result writing. Both run the same episodes in
the same process, alternating, so machine noise hits both alike. Then the
scheduler runs the same plan (2 tasks x ``--worker-episodes`` init states of
``--worker-steps`` steps, rendering off) with 1 and 2 local workers (a pool
kept for the run, env kept per task) and with 2 Ray actors on a local
cluster, fresh run directories each time.

    .venv/bin/python benchmarks/runner_throughput.py [--policy random] [--episodes 6] [--steps 60]
    .venv/bin/python benchmarks/runner_throughput.py --skip-runner --worker-episodes 8 --worker-steps 220

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
from mistvla.harness.run.ray_cluster import init_private_cluster
from mistvla.harness.run.run_command import run
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
    parser.add_argument("--worker-steps", type=int, default=220, help="steps per episode in the workers part")
    parser.add_argument(
        "--worker-episodes", type=int, default=8, help="init states per task in the workers part"
    )
    parser.add_argument("--skip-runner", action="store_true", help="only the workers part")
    parser.add_argument("--no-ray", action="store_true", help="leave out the Ray executor")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp())
    if args.skip_runner:
        workers_part(args, tmp)
        return
    init_states = list(range(args.episodes))
    policy = make_policy(args.policy)
    env = LiberoEnv("libero_spatial", 0, cameras=(), privileged=True, max_steps=args.steps)
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

    workers_part(args, tmp)


def workers_part(args: argparse.Namespace, tmp: Path) -> None:
    """The scheduler on the same plan: local 1 worker, local 2 workers (a pool), Ray with 2 actors."""
    init_states = list(range(args.worker_episodes))
    cfg_data = {
        "name": "bench",
        "policy": {"name": args.policy},
        "episodes": {"suite": "libero_spatial", "tasks": [0, 1], "init_states": init_states},
        "env": {"max_steps": args.worker_steps},
        "risk": {"source": "constant"},
    }
    n = 2 * len(init_states)
    times = {}
    for kind, workers in (("local", 1), ("local", 2), ("ray", 2)):
        if kind == "ray":
            if args.no_ray:
                continue

            t = time.perf_counter()
            init_private_cluster(num_cpus=2)
            print(f"ray local cluster start: {time.perf_counter() - t:.1f} s (not counted below)")
        cfg = parse_config(
            {**cfg_data, "executor": {"kind": kind}, "output_dir": str(tmp / f"{kind}{workers}")}
        )
        t = time.perf_counter()
        run(cfg, workers=workers, progress=False)
        times[kind, workers] = time.perf_counter() - t
        print(
            f"scheduler, {kind} x{workers}: {3600 * n / times[kind, workers]:8.0f} episodes/h "
            f"({n} episodes of {args.worker_steps} steps, incl. worker start and env builds)"
        )
    one = times["local", 1]
    print(f"speed-up local 2 vs 1 workers: {one / times['local', 2]:.2f}x")
    if ("ray", 2) in times:
        print(f"ray x2 vs local x2 (throughput): {times['local', 2] / times['ray', 2]:.2f}")


if __name__ == "__main__":
    main()
