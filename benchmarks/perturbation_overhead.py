"""Per-step cost of each perturbation wrapper as a ratio to the unwrapped step, and corruption cost per frame.

Part 1: a state-only env (no cameras, the scripted expert's setting); for each
registered perturbation at level 3, ``--steps`` steps wrapped and unwrapped,
interleaved ``--rounds`` times in ABBA order, from the same reset; ratio = wrapped / unwrapped
step CPU time (process time, not wall time: the machine is shared; reset cost excluded; model-field perturbations cost nothing per step).
Part 2: ``sensor_noise`` corruptions per frame at 128 and 224 px, in ms and as a
ratio to one 128 px agentview render measured in the same process.

    .venv/bin/python benchmarks/perturbation_overhead.py --steps 100 --rounds 3
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

os.environ.setdefault("MUJOCO_GL", "egl")


def _steps(env, n: int, seed: int = 0) -> float:
    env.reset(seed=seed, options={"init_state": 0})
    rng = np.random.default_rng(0)
    actions = np.clip(rng.normal(0, 0.3, (n, 7)), -1, 1)
    t0 = time.process_time()  # CPU time of this process: steadier than wall time on a shared machine
    for a in actions:
        env.step(a)
    dt = time.process_time() - t0
    if hasattr(env, "restore"):
        env.restore()
    return dt / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--part", choices=["1", "2", "both"], default="both")
    args = parser.parse_args()
    if args.part != "2":
        part1(args)
    if args.part != "1":
        part2()


def part1(args: argparse.Namespace) -> None:
    from mistvla.harness.envs.libero import LiberoEnv
    from mistvla.harness.envs.wrappers.base import PERTURBATIONS, wrap

    env = LiberoEnv("libero_spatial", 0, cameras=(), max_steps=args.steps + 1)
    print(
        f"part 1: per-step CPU time, wrapped / unwrapped (state-only env, {args.steps} steps x {args.rounds})"
    )
    for name in PERTURBATIONS.names():
        base, wrapped = [], []
        for r in range(args.rounds):  # ABBA order, so drift and warm-up do not favour one side
            pair = [(base, env), (wrapped, wrap(env, name, 3))]
            for out, e in pair if r % 2 == 0 else pair[::-1]:
                out.append(_steps(e, args.steps))
        b, w = float(np.median(base)), float(np.median(wrapped))
        print(f"  {name:18s} {w * 1e3:7.3f} ms vs {b * 1e3:7.3f} ms  ratio {w / b:6.3f}")
    env.close()


def part2() -> None:
    from mistvla.harness.envs.libero import LiberoEnv
    from mistvla.harness.envs.wrappers.sensor_noise import CORRUPTIONS, corrupt

    cam = LiberoEnv("libero_spatial", 0, cameras=("agentview",), image_size=128, max_steps=30, warmup_steps=1)
    render = _steps(cam, 10)  # a step that renders one 128 px camera
    cam.close()
    print(f"part 2: corruption per frame (CPU; one env step with a 128 px agentview: {render * 1e3:.2f} ms)")
    rng = np.random.default_rng(0)
    for size in (128, 224):
        img = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        for kind in CORRUPTIONS:
            t0 = time.process_time()
            for _ in range(20):
                corrupt(img, kind, 3, rng)
            dt = (time.process_time() - t0) / 20
            print(f"  {size} px {kind:15s} {dt * 1e3:7.3f} ms  = {dt / render:5.3f} x that step")


if __name__ == "__main__":
    main()
