"""Env steps/s with and without rendering, and mistvla's overhead over raw LIBERO.

Steps LIBERO's own ``OffScreenRenderEnv`` and mistvla's ``LiberoEnv`` (collision
ledger, drop detector, observation building, checks) with the same actions
from the same init state, alternating blocks in one process so that machine
noise hits both alike, and prints medians and the overhead ratio.

    .venv/bin/python benchmarks/env_step_rate.py [--blocks 7] [--steps 60] [--render-steps 8]

Target: the wrapper stack adds under 5% to a raw step with rendering off.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import time

import numpy as np

os.environ.setdefault("MUJOCO_GL", "egl")

from mistvla.harness.envs.libero import LiberoEnv
from mistvla.harness.envs.setup import ensure_libero
from mistvla.harness.envs.tasks import get_task, load_init_states


def raw_env(cameras: tuple[str, ...], size: int):
    ensure_libero()
    from libero.libero.envs import OffScreenRenderEnv

    info = get_task("libero_spatial", 0)
    with contextlib.redirect_stdout(io.StringIO()):
        env = OffScreenRenderEnv(
            bddl_file_name=info.bddl_file,
            has_offscreen_renderer=bool(cameras),
            use_camera_obs=bool(cameras),
            camera_names=list(cameras) or ["agentview"],
            camera_heights=size,
            camera_widths=size,
            hard_reset=False,
            horizon=100000,
        )
    if not cameras:
        env.env.has_offscreen_renderer = False
    return env


def actions(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = np.clip(np.cumsum(rng.normal(0, 0.15, (n, 7)), axis=0), -0.6, 0.6)
    a[:, 6] = -1.0
    return a


def time_raw(env, init: np.ndarray, acts: np.ndarray) -> float:
    np.random.seed(0)
    env.reset()
    env.set_init_state(init)
    t = time.perf_counter()
    for a in acts:
        env.step(a)
    return (time.perf_counter() - t) / len(acts)


def time_ours(env: LiberoEnv, acts: np.ndarray) -> float:
    env.reset(seed=0, options={"init_state": 0})
    t = time.perf_counter()
    for a in acts:
        env.step(a)
    return (time.perf_counter() - t) / len(acts)


def compare(cameras: tuple[str, ...], size: int, steps: int, blocks: int) -> tuple[float, float]:
    init = load_init_states("libero_spatial", 0)[0]
    raw = raw_env(cameras, size)
    ours = LiberoEnv("libero_spatial", 0, cameras=cameras, image_size=size, max_steps=100000)
    acts = actions(steps)
    time_raw(raw, init, acts[:5])  # warm caches, JIT
    time_ours(ours, acts[:5])
    raw_t, ours_t = [], []
    for _ in range(blocks):
        raw_t.append(time_raw(raw, init, acts))
        ours_t.append(time_ours(ours, acts))
    raw.close()
    ours.close()
    return statistics.median(raw_t), statistics.median(ours_t)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--blocks", type=int, default=7)
    parser.add_argument("--steps", type=int, default=60, help="steps per block, rendering off")
    parser.add_argument("--render-steps", type=int, default=8, help="steps per block, rendering on")
    args = parser.parse_args()

    print("| setting | raw LIBERO steps/s | mistvla steps/s | overhead (mistvla/raw - 1) |")
    print("|---|---|---|---|")
    for label, cams, steps in (
        ("rendering off", (), args.steps),
        ("agentview + wrist, 128 px", ("agentview", "robot0_eye_in_hand"), args.render_steps),
    ):
        raw_s, ours_s = compare(cams, 128, steps, args.blocks if cams == () else max(3, args.blocks // 2))
        print(f"| {label} | {1 / raw_s:.1f} | {1 / ours_s:.1f} | {100 * (ours_s / raw_s - 1):+.1f}% |")


if __name__ == "__main__":
    main()
