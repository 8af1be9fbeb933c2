"""Gymnasium ids for every LIBERO task, registered by an explicit call.

Ids are ``mistvla/{suite}-{task_index}-v0`` (e.g. ``mistvla/libero_spatial-0-v0``);
keyword arguments of ``gymnasium.make`` go to :class:`LiberoEnvConfig`. Each
spec records the suite's step limit under the default protocol (OpenVLA's) as
``max_episode_steps``. The env enforces its own limit too, at the same step;
for another protocol pass both, e.g. ``gym.make(id, protocol="lerobot",
max_episode_steps=280)`` (a mismatch is an error at the first reset, never a
silent early cut).

>>> env_id("libero_goal", 3)
'mistvla/libero_goal-3-v0'

Registering touches Gymnasium's registry, so it happens only when asked:

>>> import gymnasium as gym
>>> ids = register_envs()                                  # doctest: +SKIP
>>> env = gym.make("mistvla/libero_spatial-0-v0", cameras=())  # doctest: +SKIP
"""

from __future__ import annotations

import gymnasium as gym

from mistvla.harness.envs.tasks import DEFAULT_PROTOCOL, SUITES, step_limit, suite_tasks

ENTRY_POINT = "mistvla.harness.envs.libero:LiberoEnv"


def env_id(suite: str, task_index: int) -> str:
    """The Gymnasium id of a LIBERO task."""
    return f"mistvla/{suite}-{task_index}-v0"


def register_envs(suites: tuple[str, ...] = SUITES) -> list[str]:
    """Register every task of ``suites`` with Gymnasium (idempotent); return the ids."""
    ids = []
    for suite in suites:
        for task in suite_tasks(suite):
            gid = env_id(suite, task.index)
            ids.append(gid)
            if gid in gym.registry:
                continue
            gym.register(
                id=gid,
                entry_point=ENTRY_POINT,
                kwargs={"suite": suite, "task": task.index},
                max_episode_steps=step_limit(suite, DEFAULT_PROTOCOL),
                disable_env_checker=True,
            )
    return ids
