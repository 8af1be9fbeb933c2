"""Success rate of the scripted expert per LIBERO suite (rendering off), clean and perturbed.

Runs ``ScriptedExpert`` on every supported task of each suite over the first
``--init-states`` init states (seed = init state), and prints a per-task and a
per-suite table: SR with a 95% Wilson interval, collision rate (the env's
collision ledger: at least one collision onset), mean steps and steps/s. With
``--perturb`` it also runs the expert with that perturbation on the same
episodes, in the same process, and prints each suite's perturbed SR and CR
next to the clean expert's (the baseline) with their ratio. Tasks whose BDDL
goal the expert cannot script are listed with the reason.

    .venv/bin/python benchmarks/scripted_expert_sr.py --suites libero_spatial libero_object \\
        --init-states 10 --workers 2 [--perturb strong] [--json out.json]

Target: clean SR >= 0.80 on libero_spatial and libero_object.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import time
from typing import Any

PRESETS: dict[str, dict[str, Any]] = {
    "none": {},
    "mild": {
        "action_noise": 0.3,
        "grasp_offset": 0.03,
        "overshoot": 0.06,
        "overshoot_prob": 0.3,
        "wrong_object_prob": 0.05,
    },
    "strong": {
        "action_noise": 0.2,
        "grasp_offset": 0.02,
        "overshoot": 0.08,
        "overshoot_prob": 0.5,
        "wrong_object_prob": 0.2,
        "speed_scale": 1.5,
    },
}


def run_task(job: tuple[str, int, int, dict[str, Any], int]) -> list[dict[str, Any]]:
    """Run one task's episodes (in a worker process); one record per episode."""
    suite, task, n_init, perturb, seed = job
    from mistvla.harness.envs.libero import LiberoEnv
    from mistvla.policies.scripted.expert import PerturbationConfig, ScriptedExpert

    env = LiberoEnv(suite, task, cameras=(), privileged=True)
    policy = ScriptedExpert(perturbation=PerturbationConfig(seed=seed, **perturb))
    policy.bind(env)
    out = []
    for k in range(min(n_init, len(env.init_states))):
        t0 = time.perf_counter()
        obs, info = env.reset(seed=k, options={"init_state": k})
        policy.reset(env.instruction, seed=k)
        while True:
            obs, _, terminated, truncated, info = env.step(policy.select_action(obs))
            if terminated or truncated:
                break
        coll = info["episode_collisions"]
        out.append(
            {
                "suite": suite,
                "task": task,
                "init_state": k,
                "success": bool(info["is_success"]),
                "reason": info["termination_reason"],
                "steps": int(info["step"]),
                "collided": bool(coll["collided"]),
                "n_onsets": int(coll["n_onsets"]),
                "attempts": policy.attempts + 1,
                "seconds": time.perf_counter() - t0,
                "perturbed": bool(perturb),
            }
        )
    env.close()
    return out


def coverage(suite: str) -> tuple[list[int], list[tuple[int, str]]]:
    """Supported task indices and (index, reason) of unsupported ones, from the BDDL alone."""
    from mistvla.harness.envs.tasks import suite_tasks
    from mistvla.harness.errors import UnsupportedTaskError
    from mistvla.policies.scripted.goals import goal_from_bddl

    ok, bad = [], []
    for info in suite_tasks(suite):
        try:
            goal_from_bddl(info.bddl_file)
            ok.append(info.index)
        except UnsupportedTaskError as err:
            bad.append((info.index, str(err).split(": only")[0]))
    return ok, bad


def _rate(rows: list[dict[str, Any]], key: str) -> str:
    from mistvla.harness.stats.intervals import wilson_interval

    k, n = sum(r[key] for r in rows), len(rows)
    lo, hi = wilson_interval(k, n)
    return f"{k:3d}/{n:<3d} {k / n:5.2f} [{lo:.2f}, {hi:.2f}]"


def report(rows: list[dict[str, Any]], suites: list[str]) -> None:
    print(f"\n{'suite':16s} {'task':>4s}  {'SR':24s}  {'CR':24s}  {'steps':>5s}  {'tries':>5s}")
    for suite in suites:
        srows = [r for r in rows if r["suite"] == suite and not r["perturbed"]]
        for task in sorted({r["task"] for r in srows}):
            t = [r for r in srows if r["task"] == task]
            steps = sum(r["steps"] for r in t) / len(t)
            tries = sum(r["attempts"] for r in t) / len(t)
            print(
                f"{suite:16s} {task:4d}  {_rate(t, 'success')}  {_rate(t, 'collided')}  {steps:5.0f}  {tries:5.2f}"
            )
    print(f"\n{'suite':16s} {'expert':9s}  {'SR (95% Wilson)':24s}  {'CR (95% Wilson)':24s}  steps/s")
    for suite in suites:
        for perturbed in (False, True):
            s = [r for r in rows if r["suite"] == suite and r["perturbed"] == perturbed]
            if not s:
                continue
            rate = sum(r["steps"] for r in s) / sum(r["seconds"] for r in s)
            name = "perturbed" if perturbed else "clean"
            print(f"{suite:16s} {name:9s}  {_rate(s, 'success')}  {_rate(s, 'collided')}  {rate:6.0f}")
        clean = [r for r in rows if r["suite"] == suite and not r["perturbed"]]
        pert = [r for r in rows if r["suite"] == suite and r["perturbed"]]
        if clean and pert:
            sr_c = sum(r["success"] for r in clean) / len(clean)
            sr_p = sum(r["success"] for r in pert) / len(pert)
            cr_c = sum(r["collided"] for r in clean) / len(clean)
            cr_p = sum(r["collided"] for r in pert) / len(pert)
            ratio = f"{sr_p / sr_c:.2f}" if sr_c else "n/a"
            print(f"{'':16s} perturbed/clean SR ratio {ratio}; CR {cr_c:.2f} -> {cr_p:.2f}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--suites", nargs="+", default=["libero_spatial", "libero_object"])
    ap.add_argument(
        "--tasks", type=int, nargs="*", default=None, help="task indices (default: all supported)"
    )
    ap.add_argument("--init-states", type=int, default=10)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--perturb", default="none", help=f"preset ({', '.join(PRESETS)}) or a JSON dict")
    ap.add_argument("--seed", type=int, default=0, help="perturbation seed")
    ap.add_argument("--json", default=None, help="write the episode records here")
    args = ap.parse_args(argv)
    perturb = PRESETS[args.perturb] if args.perturb in PRESETS else json.loads(args.perturb)

    jobs = []
    for suite in args.suites:
        ok, bad = coverage(suite)
        print(f"{suite}: {len(ok)} supported task(s); unsupported: {len(bad)}")
        for index, reason in bad:
            print(f"   task {index}: {reason}")
        tasks = [t for t in ok if args.tasks is None or t in args.tasks]
        for variant in [{}] + ([perturb] if perturb else []):
            jobs += [(suite, t, args.init_states, variant, args.seed) for t in tasks]
    t0 = time.perf_counter()
    if args.workers > 1:
        with mp.get_context("spawn").Pool(args.workers) as pool:
            results = pool.map(run_task, jobs, chunksize=1)
    else:
        results = [run_task(job) for job in jobs]
    rows = [r for res in results for r in res]
    report(rows, args.suites)
    print(f"\n{len(rows)} episodes in {time.perf_counter() - t0:.0f} s with {args.workers} worker(s)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"perturbation": perturb, "seed": args.seed, "episodes": rows}, f, indent=1)


if __name__ == "__main__":
    main()
