"""Valid episode records and step columns for the results-store tests (no tests here; imported by them)."""

from __future__ import annotations

from typing import Any

import numpy as np

CONFIG: dict[str, Any] = {
    "suite": "libero_spatial",
    "policy": {"name": "smolvla", "checkpoint": "tiny-random"},
    "seeds": [0, 1],
    "env_kwargs": {"horizon": 50, "camera_heights": 128},
    "hooks": [{"module": "model.layers.3", "capture": "output"}],
    "steering": None,
}


def make_record(
    task: int = 0,
    init: int = 0,
    seed: int = 0,
    success: bool = True,
    collisions: int = 0,
    interventions: int = 0,
    steps: int = 20,
    intervention: str = "none",
    episode_index: int = 0,
) -> dict[str, Any]:
    """A consistent episode record."""
    return {
        "policy": "smolvla",
        "intervention": intervention,
        "suite": "libero_spatial",
        "task": f"pick up the bowl {task}",
        "task_index": task,
        "init_state": init,
        "seed": seed,
        "repeat": 0,
        "episode_index": episode_index,
        "success": success,
        "collided": collisions > 0,
        "n_collision_onsets": collisions,
        "first_collision_step": 3 if collisions else None,
        "max_collision_force": 12.5 if collisions else 0.0,
        "termination_reason": "success" if success else "timeout",
        "steps": steps,
        "max_steps": 50,
        "wall_time_s": 1.25,
        "n_interventions": interventions,
        "intervention_steps": 2 * interventions,
        "first_intervention_step": 1 if interventions else None,
        "error": None,
        "env_kwargs": {"horizon": 50, "camera_heights": 128},
        "started_utc": "2025-01-01T00:00:00+00:00",
    }


def make_steps(steps: int = 20, seed: int = 0) -> dict[str, Any]:
    """Per-step columns of an episode of ``steps`` steps."""
    rng = np.random.default_rng(seed)
    raw = rng.normal(size=(steps, 7)).astype(np.float32)
    return {
        "raw_action": raw,
        "executed_action": raw * 0.5,
        "intervention_active": np.arange(steps) % 5 == 1,
        "risk_score": rng.random(steps).astype(np.float32),
        "n_collision_events": np.zeros(steps, dtype=np.int32),
        "eef_pos": rng.normal(size=(steps, 3)),
        "eef_quat": np.tile([1.0, 0.0, 0.0, 0.0], (steps, 1)),
    }
