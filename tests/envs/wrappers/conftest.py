"""One small rendering env shared by every wrapper test (64 px agentview, 2 warm-up steps)."""

from __future__ import annotations

import pytest

from mistvla.harness.envs.libero import LiberoEnv


@pytest.fixture(scope="session")
def env():
    e = LiberoEnv("libero_spatial", 0, cameras=("agentview",), image_size=64, warmup_steps=2, max_steps=30)
    yield e
    e.close()
