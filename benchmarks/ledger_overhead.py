"""Cost of the collision ledger per env step, as a ratio to the same steps without it.

Runs a libero_spatial scene with rendering off through two phases of a fixed
action sequence: free-space motion (no robot contacts; ~90 scene contacts per
substep between objects and the table) and pressing the gripper on the table
(robot contacts in every substep, so ``mj_contactForce`` runs each time).

Two measurements, both in this process:

* **interleaved**: the ledger stays attached but its wrapper is switched in and
  out of ``sim.step`` on alternate env steps (the ledger does not change the
  physics, so both halves run the same trajectory); the ratio of the median
  step time with it to the median without, in CPU time of this process
  (``time.process_time``) and in wall time. On a loaded shared machine the
  wall ratio swings by +-15% even between two halves *without* the ledger;
  CPU time stays within about +-5%.
* **in situ**: a normal run with the ledger, timing the ledger's own code
  (its per-substep hook and ``end_step``) inside every step, as a fraction of
  the step. This is the ledger's cost without noise from other processes; the
  interleaved ratio also contains second-order effects (caches) and noise.

* **legacy vs current** (``--legacy``): the in-situ hook time of the ledger before the contact-set plan
  cache (``tests/envs/legacy_ledger.py``, the hook verbatim) and of the current one, alternating runs of
  the same actions in this process, and their ratio.

Nothing is asserted.

    .venv/bin/python benchmarks/ledger_overhead.py [--repeats 4] [--steps 80] [--legacy]
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
    from mistvla.harness.envs.setup import ensure_libero

    ensure_libero()
    from libero.libero import benchmark, get_libero_path
    from libero.libero.envs import OffScreenRenderEnv

    suite = benchmark.get_benchmark_dict()["libero_spatial"]()
    task = suite.get_task(0)
    bddl = os.path.join(get_libero_path("bddl_files"), task.problem_folder, task.bddl_file)
    env = OffScreenRenderEnv(bddl_file_name=bddl, has_offscreen_renderer=False, use_camera_obs=False)
    return env, suite.get_task_init_states(0)


def actions(phase: str, n: int) -> np.ndarray:
    """``free``: small loops in the air. ``press``: toward +x, then down onto the table and on."""
    a = np.zeros((n, 7))
    a[:, 6] = -1.0
    t = np.arange(n)
    if phase == "free":
        a[:, 0] = 0.3 * np.sin(t / 5)
        a[:, 1] = 0.3 * np.cos(t / 5)
    else:
        a[: n // 4, 0] = 1.0
        a[n // 4 :, 2] = -1.0
    return a


def interleaved(env: Any, init: Any, acts: np.ndarray, ledger: Any) -> tuple[list[Any], list[Any], int]:
    """Per-step (CPU, wall) seconds with and without the ledger's wrapper, alternating step by step."""
    env.seed(0)
    env.reset()
    env.set_init_state(init)
    rs = env.env
    ledger.attach(rs)
    ledger.reset()
    sim, wrapper = rs.sim, vars(rs.sim)["step"]
    with_ledger: list[tuple[float, float]] = []
    without: list[tuple[float, float]] = []
    pairs = 0
    for k, a in enumerate(acts):
        on = k % 2 == 0
        if on:
            sim.step = wrapper
            c0, t0 = time.process_time(), time.perf_counter()
            ledger.begin_step()
            rs.step(a)
            record = ledger.end_step()
            with_ledger.append((time.process_time() - c0, time.perf_counter() - t0))
            pairs += len(record["contacts"])
        else:
            del sim.step
            c0, t0 = time.process_time(), time.perf_counter()
            rs.step(a)
            without.append((time.process_time() - c0, time.perf_counter() - t0))
    sim.step = wrapper
    return with_ledger, without, pairs


def in_situ(env: Any, init: Any, acts: np.ndarray, ledger: Any) -> tuple[float, float, float]:
    """Seconds per step spent in the hook and in ``end_step``, and per whole step (wall)."""
    env.seed(0)
    env.reset()
    env.set_init_state(init)
    rs = env.env
    ledger.attach(rs)
    ledger.reset()
    hook = ledger._record_substep
    spent = [0.0]

    def timed_hook() -> None:
        t0 = time.perf_counter()
        hook()
        spent[0] += time.perf_counter() - t0

    ledger._record_substep = timed_hook  # the wrapper looks the hook up on every substep
    end = total = 0.0
    for a in acts:
        t0 = time.perf_counter()
        ledger.begin_step()
        rs.step(a)
        t1 = time.perf_counter()
        ledger.end_step()
        t2 = time.perf_counter()
        end += t2 - t1
        total += t2 - t0
    del ledger._record_substep
    n = len(acts)
    return spent[0] / n, end / n, total / n


def legacy_vs_current(env: Any, init: Any, args: argparse.Namespace) -> None:
    """In-situ hook + end_step time per step of the pre-cache ledger and the current one, alternating."""
    import sys
    from pathlib import Path

    from mistvla.harness.envs.collisions.ledger import CollisionLedger

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "envs"))
    from legacy_ledger import LegacyLedger

    for phase in ("free", "press"):
        acts = actions(phase, args.steps)
        got: dict[str, list[tuple[float, float, float]]] = {"legacy": [], "current": []}
        for _ in range(args.repeats):
            for name, cls in (("legacy", LegacyLedger), ("current", CollisionLedger)):
                ledger = cls()
                got[name].append(in_situ(env, init, acts, ledger))
                ledger.detach()
        med = {k: [statistics.median(r[i] for r in v) for i in range(3)] for k, v in got.items()}
        (lh, le, ls), (ch, ce, cs) = med["legacy"], med["current"]
        print(
            f"{phase:5s} legacy hook {lh * 1e3 / 25 * 1e3:.1f} us/substep + end_step {le * 1e6:.1f} us = "
            f"{(lh + le) / ls:.3f} of a step; current {ch * 1e3 / 25 * 1e3:.1f} us/substep + "
            f"{ce * 1e6:.1f} us = {(ch + ce) / cs:.3f}; current / legacy {(ch + ce) / (lh + le):.2f} "
            f"(medians of {args.repeats} runs each)"
        )


def main() -> None:
    """Print per-step times and overhead ratios for each phase."""
    from mistvla.harness.envs.collisions.ledger import CollisionLedger

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=4)
    parser.add_argument("--steps", type=int, default=80)
    parser.add_argument("--legacy", action="store_true", help="only: legacy vs current hook, in situ")
    args = parser.parse_args()
    env, inits = make_env()
    if args.legacy:
        legacy_vs_current(env, inits[0], args)
        env.close()
        return
    ledger = CollisionLedger()
    for phase in ("free", "press"):
        acts = actions(phase, args.steps)
        on_all, off_all, seen = [], [], 0
        for _ in range(args.repeats):
            on, off, pairs = interleaved(env, inits[0], acts, ledger)
            on_all += on
            off_all += off
            seen = max(seen, pairs)
        b, w = (statistics.median(c for c, _ in off_all), statistics.median(c for c, _ in on_all))
        bw, ww = (statistics.median(t for _, t in off_all), statistics.median(t for _, t in on_all))
        print(
            f"{phase:5s} interleaved: CPU {b * 1e3:.2f} ms/step without, {w * 1e3:.2f} with -> ratio "
            f"{w / b:.3f}; wall {bw * 1e3:.2f} / {ww * 1e3:.2f} -> {ww / bw:.3f} "
            f"({len(on_all)} steps each; robot contact pairs reported: {seen})"
        )
        hook, end, step = in_situ(env, inits[0], acts, ledger)
        print(
            f"{phase:5s} in situ: hook {hook * 1e3 / 25 * 1e3:.1f} us/substep, end_step {end * 1e6:.1f} us "
            f"-> {(hook + end) * 1e3:.3f} ms of a {step * 1e3:.2f} ms step = {(hook + end) / step:.3f}"
        )
        ledger.detach()
    env.close()


if __name__ == "__main__":
    main()
