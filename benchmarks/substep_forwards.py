"""Why the simulator's share of a step cannot be cut further without changing results.

robosuite runs, in every one of its 25 substeps per control step, ``sim.forward()`` (its step loop), a second
``sim.forward()`` (the OSC controller's ``update``, on the same state) and ``mj_step`` (which runs the forward
pipeline a third time before integrating). Skipping the second forward or using ``mj_step2`` after the first
would save ~40 % of raw LIBERO's step, but only if ``mj_forward`` were idempotent. This script measures both:

1. which ``mjData`` fields a second ``mj_forward`` on an unchanged state changes (MuJoCo writes the solver's
   warm start, ``qacc_warmstart``, in ``mj_forward``, so the next solve starts elsewhere);
2. how far two LIBERO envs driven with the same actions drift apart when one skips the controller's
   forward, and the step rate of each.

    .venv/bin/python benchmarks/substep_forwards.py [--steps 300]
"""

from __future__ import annotations

import os

for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import argparse  # noqa: E402
import contextlib  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402

import mujoco  # noqa: E402
import numpy as np  # noqa: E402

from mistvla.harness.envs.setup import ensure_libero  # noqa: E402
from mistvla.harness.envs.tasks import get_task, load_init_states  # noqa: E402


def raw_env(task: int):
    ensure_libero()
    from libero.libero.envs import OffScreenRenderEnv

    with contextlib.redirect_stdout(io.StringIO()):
        env = OffScreenRenderEnv(bddl_file_name=get_task("libero_spatial", task).bddl_file,
                                 has_offscreen_renderer=False, use_camera_obs=False)  # fmt: skip
    env.env.has_offscreen_renderer = False
    env.reset()
    env.set_init_state(load_init_states("libero_spatial", task)[0])
    return env


def skip_controller_forward(env) -> None:
    """The controller's forward (inside ``_pre_action``, right after the step loop's own) becomes a no-op."""
    rs = env.env
    inner = rs._pre_action

    def pre_action(action, policy_step=False):
        rs.sim.forward = lambda: None
        try:
            inner(action, policy_step)
        finally:
            del rs.sim.forward

    rs._pre_action = pre_action


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--task", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(1)
    actions = np.clip(np.cumsum(rng.normal(0, 0.2, (args.steps, 7)), axis=0), -1, 1)
    actions[:, 2] = -np.abs(actions[:, 2])  # down into the table and the objects: contacts

    env = raw_env(args.task)
    for a in actions[:40]:
        env.step(a)
    m, d = env.env.sim.model._model, env.env.sim.data._data
    fields = [f for f in dir(d) if not f.startswith("_") and isinstance(getattr(d, f), np.ndarray)]
    mujoco.mj_forward(m, d)
    before = {f: getattr(d, f).copy() for f in fields}
    mujoco.mj_forward(m, d)
    changed = [f for f in fields if not np.array_equal(before[f], getattr(d, f), equal_nan=True)]
    print(json.dumps({"second_forward_changes": changed, "ncon": int(d.ncon)}))
    env.close()

    a_env, b_env = raw_env(args.task), raw_env(args.task)
    skip_controller_forward(b_env)
    t = {"robosuite": 0.0, "skip": 0.0}
    first_diff, max_diff = None, 0.0
    for i, a in enumerate(actions):
        t0 = time.perf_counter()
        a_env.step(a)
        t1 = time.perf_counter()
        b_env.step(a)
        t["robosuite"] += t1 - t0
        t["skip"] += time.perf_counter() - t1
        diff = float(np.max(np.abs(a_env.env.sim.data.qpos - b_env.env.sim.data.qpos)))
        if diff > 0 and first_diff is None:
            first_diff = i
        max_diff = max(max_diff, diff)
    out = {"steps": args.steps, "first_step_with_a_qpos_difference": first_diff, "max_qpos_diff": max_diff,
           "steps_per_s_robosuite": args.steps / t["robosuite"], "steps_per_s_skip": args.steps / t["skip"]}  # fmt: skip
    print(json.dumps(out))


if __name__ == "__main__":
    main()
