"""Cost of the collision ledger per env step, as a ratio to the same steps without it.

Runs a libero_spatial scene with rendering off and replays one fixed action
sequence twice per round, with and without a :class:`CollisionLedger`
attached (``begin_step``/``end_step`` around every step), alternating the order
between rounds. Two phases: free-space motion (no robot contacts; ~90 scene
contacts per substep between objects and the table) and pressing the gripper on
the table (robot contacts in every substep, so ``mj_contactForce`` runs each
time). Prints medians over rounds; nothing is asserted.

    .venv/bin/python benchmarks/ledger_overhead.py [--rounds 5] [--steps 60]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import Any

import numpy as np


def make_env() -> tuple[Any, Any]:
    """A libero_spatial task-0 env without renderer, and its init states."""
    from mistvla.harness.libero_setup import ensure_libero

    ensure_libero()
    from libero.libero import benchmark, get_libero_path
    from libero.libero.envs import OffScreenRenderEnv

    suite = benchmark.get_benchmark_dict()["libero_spatial"]()
    task = suite.get_task(0)
    bddl = os.path.join(get_libero_path("bddl_files"), task.problem_folder, task.bddl_file)
    env = OffScreenRenderEnv(bddl_file_name=bddl, has_offscreen_renderer=False, use_camera_obs=False)
    return env, suite.get_task_init_states(0)


def actions(phase: str, n: int) -> np.ndarray:
    """Fixed action sequences: ``free`` (small loops in the air), ``press`` (move to a clear
    spot, then push down onto the table)."""
    a = np.zeros((n, 7))
    a[:, 6] = -1.0
    t = np.arange(n)
    if phase == "free":
        a[:, 0] = 0.3 * np.sin(t / 5)
        a[:, 1] = 0.3 * np.cos(t / 5)
    else:
        a[: n // 3, 0] = 1.0  # toward +x, above a clear part of the table
        a[n // 3 :, 2] = -1.0
    return a


def run(env: Any, init: Any, acts: np.ndarray, ledger: Any) -> tuple[float, int]:
    """Reset, then time the steps; returns (seconds, robot contact pairs seen)."""
    env.seed(0)
    env.reset()
    env.set_init_state(init)
    rs = env.env
    if ledger is not None:
        ledger.attach(rs)
        ledger.reset()
    pairs = 0
    t0 = time.perf_counter()
    for a in acts:
        if ledger is None:
            rs.step(a)
        else:
            ledger.begin_step()
            rs.step(a)
            pairs += len(ledger.end_step()["contacts"])
    dt = time.perf_counter() - t0
    if ledger is not None:
        ledger.detach()
    return dt, pairs


def hook_cost(env: Any, ledger: Any, n: int = 2000) -> tuple[float, float, int]:
    """Seconds per call of the ledger's per-substep hook and of ``end_step`` on the current state."""
    ledger.begin_step()
    t0 = time.perf_counter()
    for _ in range(n):
        ledger._record_substep()
    per_substep = (time.perf_counter() - t0) / n
    pairs = len(ledger._pairs)
    ledger.end_step()
    per_end = 0.0
    for _ in range(200):
        ledger.begin_step()
        for _ in range(25):
            ledger._record_substep()
        t0 = time.perf_counter()
        ledger.end_step()
        per_end += (time.perf_counter() - t0) / 200
    return per_substep, per_end, pairs


def main() -> None:
    """Print per-step times and the overhead ratio for each phase."""
    from mistvla.harness.collision_ledger import CollisionLedger

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=60)
    args = parser.parse_args()
    env, inits = make_env()
    ledger = CollisionLedger()
    for phase in ("free", "press"):
        acts = actions(phase, args.steps)
        base, led, seen = [], [], 0
        run(env, inits[0], acts[:5], None)  # warm-up
        for r in range(args.rounds):
            order = (None, ledger) if r % 2 == 0 else (ledger, None)
            for lg in order:
                dt, pairs = run(env, inits[0], acts, lg)
                (base if lg is None else led).append(dt / len(acts))
                seen = max(seen, pairs)
        b, w = statistics.median(base), statistics.median(led)
        print(
            f"{phase:5s}: {b * 1e3:.2f} ms/step without ledger, {w * 1e3:.2f} ms/step with "
            f"-> ratio {w / b:.3f} (robot contact pairs reported: {seen})"
        )
        # Direct cost on the state at the end of the phase.
        env.seed(0)
        env.reset()
        env.set_init_state(inits[0])
        ledger.attach(env.env)
        ledger.reset()
        for a in acts:
            env.env.step(a)
        sub, end, pairs = hook_cost(env, ledger)
        ncon = int(env.env.sim.data._data.ncon)
        own = 25 * sub + end
        print(
            f"{phase:5s}: hook {sub * 1e6:.1f} us/substep ({ncon} contacts, {pairs} robot pairs), "
            f"end_step {end * 1e6:.1f} us -> {own * 1e3:.3f} ms/step = {own / b:.3f} of a step"
        )
        ledger.detach()
    env.close()


if __name__ == "__main__":
    main()
