"""The default reset reproduces raw LIBERO's published protocol exactly; ``settled`` is today's named option.

Raw LIBERO is built here independently of the env's helpers, as OpenVLA's
``run_libero_eval.py`` and LeRobot's ``LiberoEnv`` drive it: ``env.reset()``,
``env.set_init_state(s)``, 10 no-op steps with the gripper open, then actions.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os

import numpy as np
import pytest

from mistvla.harness.envs.libero import LiberoEnv
from mistvla.harness.envs.setup import ensure_libero

NOOP = [0.0] * 6 + [-1.0]
CASES = [("libero_spatial", 1, 3, 11), ("libero_object", 2, 0, 5), ("libero_goal", 0, 7, 2),
         ("libero_10", 4, 1, 9), ("libero_90", 10, 5, 0)]  # fmt: skip


def _actions(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-0.6, 0.6, (30, 7))


def _state(rs) -> dict[str, np.ndarray]:
    robot = rs.robots[0]
    data = rs.sim.data
    free = [j for j in range(rs.sim.model.njnt) if rs.sim.model.jnt_type[j] == 0]  # free joints: objects
    objects = np.concatenate(
        [data.qpos[rs.sim.model.jnt_qposadr[j] : rs.sim.model.jnt_qposadr[j] + 7] for j in free]
    )
    eef = data.site_xpos[robot.eef_site_id]
    return {
        "joints": np.array(data.qpos[robot._ref_joint_pos_indexes]),
        "eef": np.array(eef),
        "objects": objects,
    }


@functools.cache
def _raw_libero(suite: str, task: int, init_state: int, seed: int) -> list[dict[str, np.ndarray]]:
    ensure_libero()
    from libero.libero import benchmark, get_libero_path
    from libero.libero.envs import OffScreenRenderEnv

    bench = benchmark.get_benchmark_dict()[suite]()
    t = bench.get_task(task)
    bddl = os.path.join(get_libero_path("bddl_files"), t.problem_folder, t.bddl_file)
    with contextlib.redirect_stdout(io.StringIO()):
        env = OffScreenRenderEnv(
            bddl_file_name=bddl, camera_names=["agentview"], camera_heights=32, camera_widths=32
        )
    try:
        np.random.seed(seed)  # the env seeds LIBERO's global RNG the same way for its reset
        env.reset()
        env.set_init_state(bench.get_task_init_states(task)[init_state])
        for _ in range(10):
            env.step(NOOP)
        states = [_state(env.env)]
        for a in _actions(seed):
            env.step(a)
        states.append(_state(env.env))
        return states
    finally:
        env.close()


def _ours(suite: str, task: int, init_state: int, seed: int, **kw) -> list[dict[str, np.ndarray]]:
    env = LiberoEnv(suite, task, cameras=(), **kw)
    try:
        env.reset(
            seed=seed + 1, options={"init_state": (init_state + 1) % 50}
        )  # a previous, different episode
        for a in _actions(seed + 1)[:13]:
            env.step(a)
        env.reset(seed=seed, options={"init_state": init_state})
        states = [_state(env.unwrapped_libero.env)]
        for a in _actions(seed):
            env.step(a)
        states.append(_state(env.unwrapped_libero.env))
        return states
    finally:
        env.close()


@pytest.mark.slow
@pytest.mark.parametrize(("suite", "task", "init_state", "seed"), CASES)
def test_default_reset_is_raw_libero(suite: str, task: int, init_state: int, seed: int) -> None:
    raw = _raw_libero(suite, task, init_state, seed)
    ours = _ours(suite, task, init_state, seed)
    for when, (r, o) in zip(("after warm-up", "after 30 actions"), zip(raw, ours, strict=True), strict=True):
        for name in ("joints", "eef", "objects"):
            np.testing.assert_allclose(o[name], r[name], rtol=0, atol=1e-9, err_msg=f"{suite} {name} {when}")


@pytest.mark.slow
def test_settled_protocol_differs_measurably() -> None:
    suite, task, init_state, seed = CASES[0]
    raw = _raw_libero(suite, task, init_state, seed)
    settled = _ours(suite, task, init_state, seed, reset_protocol="settled")
    gap = np.abs(settled[0]["eef"] - raw[0]["eef"]).max()
    assert gap > 1e-3, f"settled and published warm-ups should differ by millimetres, got {gap:.2e} m"
