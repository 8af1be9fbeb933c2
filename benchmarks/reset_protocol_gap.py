"""How far the ``settled`` reset protocol is from the ``published`` one (raw LIBERO's), per suite.

    .venv/bin/python benchmarks/reset_protocol_gap.py [--init-states 0 1 2]

For one task of each suite and a few init states: the largest joint and
end-effector difference between the two protocols after the 10-step warm-up
and after 30 identical random actions (objects are placed identically by both).
"""

from __future__ import annotations

import argparse

import numpy as np

from mistvla.harness.envs.libero import LiberoEnv

TASKS = {"libero_spatial": 0, "libero_object": 0, "libero_goal": 0, "libero_10": 0, "libero_90": 0}


def _trace(env: LiberoEnv, init_state: int, actions: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    env.reset(seed=init_state, options={"init_state": init_state})
    rs = env.unwrapped_libero.env
    robot = rs.robots[0]

    def now() -> tuple[np.ndarray, np.ndarray]:
        return np.array(rs.sim.data.qpos[robot._ref_joint_pos_indexes]), np.array(
            rs.sim.data.site_xpos[robot.eef_site_id]
        )

    out = [now()]
    for a in actions:
        env.step(a)
    out.append(now())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--init-states", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    actions = np.random.default_rng(0).uniform(-0.6, 0.6, (30, 7))
    print("| suite | after warm-up: joints (rad) | eef (mm) | after 30 actions: joints (rad) | eef (mm) |")
    print("|---|---:|---:|---:|---:|")
    for suite, task in TASKS.items():
        gaps = np.zeros(4)
        envs = {p: LiberoEnv(suite, task, cameras=(), reset_protocol=p) for p in ("published", "settled")}
        try:
            for k in args.init_states:
                pub, sett = (_trace(envs[p], k, actions) for p in ("published", "settled"))
                for i, ((qp, ep), (qs, es)) in enumerate(zip(pub, sett, strict=True)):
                    gaps[2 * i] = max(gaps[2 * i], np.abs(qp - qs).max())
                    gaps[2 * i + 1] = max(gaps[2 * i + 1], 1000 * np.linalg.norm(ep - es))
        finally:
            for e in envs.values():
                e.close()
        print(f"| {suite} | {gaps[0]:.1e} | {gaps[1]:.1f} | {gaps[2]:.1e} | {gaps[3]:.1f} |")


if __name__ == "__main__":
    main()
