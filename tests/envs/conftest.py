"""Fixtures shared by the env tests."""

from __future__ import annotations

import os
from typing import Any

import pytest


@pytest.fixture(scope="module")
def libero() -> Any:
    """Raw LIBERO (``OffScreenRenderEnv``, no cameras) on libero_spatial task 0, its init states attached."""
    from mistvla.harness.envs.setup import ensure_libero

    ensure_libero()
    from libero.libero import benchmark, get_libero_path
    from libero.libero.envs import OffScreenRenderEnv

    suite = benchmark.get_benchmark_dict()["libero_spatial"]()
    task = suite.get_task(0)
    bddl = os.path.join(get_libero_path("bddl_files"), task.problem_folder, task.bddl_file)
    env = OffScreenRenderEnv(bddl_file_name=bddl, has_offscreen_renderer=False, use_camera_obs=False)
    env.init_states = suite.get_task_init_states(0)
    yield env
    env.close()
