"""Reset time with obstacles vs without, in one process: the obstacles are added to the model once, not per episode.

One state-only env (libero_spatial task 0, the scripted expert's setting).
Clean resets and obstacle resets (level 3) are interleaved in ``--rounds`` blocks
of ``--resets`` resets each, ABBA, so that every block switch costs one model
rebuild (reported apart, as ``switch``); the steady-state ratio compares resets
within a block (the first reset of each block, the rebuild, excluded). Process
CPU time (the machine is shared), wall time too. For reference it also times a
forced hard reset (what re-loading the model per episode would cost).

    .venv/bin/python benchmarks/obstacle_reset.py --resets 6 --rounds 2
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("MUJOCO_GL", "egl")


def _time_resets(env, n: int, seed0: int) -> tuple[float, list[float], list[float]]:
    """(first reset CPU s, CPU s of the others, wall s of the others)."""
    cpu, wall, first = [], [], 0.0
    for k in range(n):
        t0, w0 = time.process_time(), time.perf_counter()
        env.reset(seed=seed0 + k, options={"init_state": k % 10})
        dt, dw = time.process_time() - t0, time.perf_counter() - w0
        if hasattr(env, "restore"):
            env.restore()
        if k == 0:
            first = dt
        else:
            cpu.append(dt)
            wall.append(dw)
    return first, cpu, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--resets", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--level", type=int, default=3)
    args = parser.parse_args()

    from mistvla.harness.envs.libero import LiberoEnv
    from mistvla.harness.envs.wrappers.base import wrap

    env = LiberoEnv("libero_spatial", 0, cameras=(), privileged=True)
    env.reset(seed=0)
    obstacle = wrap(env, "obstacle", args.level, seed=0)
    results: dict[str, list[float]] = {"clean": [], "obstacle": [], "clean_wall": [], "obstacle_wall": []}
    switches: list[float] = []
    order = []
    for r in range(args.rounds):
        order += ["clean", "obstacle"] if r % 2 == 0 else ["obstacle", "clean"]
    for block, name in enumerate(order):
        first, cpu, wall = _time_resets(env if name == "clean" else obstacle, args.resets, 100 * block)
        if block > 0:
            switches.append(first)
        results[name] += cpu
        results[f"{name}_wall"] += wall
    t0 = time.process_time()
    env._needs_hard_reset = True  # what a model re-load per episode would cost
    env.reset(seed=0)
    hard = time.process_time() - t0

    med = {k: statistics.median(v) for k, v in results.items()}
    print(
        f"reset CPU time, median of {len(results['clean'])} each (level {args.level}, {args.rounds} rounds ABBA):"
    )
    print(f"  clean    {med['clean'] * 1e3:7.1f} ms   (wall {med['clean_wall'] * 1e3:7.1f} ms)")
    print(f"  obstacle {med['obstacle'] * 1e3:7.1f} ms   (wall {med['obstacle_wall'] * 1e3:7.1f} ms)")
    print(f"  ratio obstacle / clean: {med['obstacle'] / med['clean']:.2f} (CPU), "
          f"{med['obstacle_wall'] / med['clean_wall']:.2f} (wall)")  # fmt: skip
    print(f"  model rebuild at a clean<->obstacle switch: median {statistics.median(switches) * 1e3:.0f} ms CPU "
          f"({len(switches)} switches); a forced hard reset: {hard * 1e3:.0f} ms CPU")  # fmt: skip
    env.close()


if __name__ == "__main__":
    main()
