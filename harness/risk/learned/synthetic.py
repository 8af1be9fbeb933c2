"""Synthetic runs for tests and benchmarks: real run directories (ResultsStore) with planted risk signal.

Each episode either succeeds or collides at a random step; a collision is
preceded by ``lead`` steps of motion along one axis (z down into the table, or
y sideways), and, when ``signal > 0``, the hidden states drift along a fixed
direction as the collision approaches (plus noise). Nothing here is a mock:
the files are written by :class:`~mistvla.harness.results.store.ResultsStore`
exactly as the runner writes them.

>>> import tempfile
>>> run = write_synthetic_run(tempfile.mkdtemp() + "/run", n_episodes=2, n_steps=10, hidden_size=8)
>>> (run / "episodes").is_dir()
True
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from mistvla.harness.results.identity import EpisodeId
from mistvla.harness.results.store import ResultsStore


def write_synthetic_run(
    run_dir: str | Path,
    n_episodes: int = 20,
    n_steps: int = 60,
    hidden_size: int = 32,
    point: str = "llm.blocks.1.resid_post",
    position: str = "last_prompt",
    failure_rate: float = 0.5,
    signal: float = 2.0,
    lead: int = 10,
    policy: str = "synthetic",
    n_tasks: int = 4,
    seed: int = 0,
    durable: bool = False,
    signal_mode: str = "approach",
) -> Path:
    """Write a run directory of ``n_episodes`` synthetic episodes and return its path.

    ``signal_mode``: ``approach`` (the hidden states drift over the ``lead`` steps before the collision) or
    ``episode`` (a failing episode's states are offset at every step: the signal says "this episode will
    fail", not when, so it carries no information about the position in the episode).
    """
    rng = np.random.default_rng(seed)
    direction = np.random.default_rng(12345).standard_normal(hidden_size).astype(np.float32)
    direction /= np.linalg.norm(direction)
    feature = f"{point}__{position}"
    config = {"synthetic": {"seed": seed, "hidden_size": hidden_size}, "risk": {"source": "oracle"}}
    with ResultsStore.open(run_dir, config, durable=durable) as store:
        for i in range(n_episodes):
            task = i % n_tasks
            fails = rng.random() < failure_rate
            onset = int(rng.integers(lead + 1, n_steps - 1)) if fails else None
            n = onset + 1 if fails else int(rng.integers(n_steps // 2, n_steps))
            axis = 2 if rng.random() < 0.5 else 1
            action = rng.uniform(-0.2, 0.2, (n, 7)).astype(np.float32)
            closeness = np.zeros(n, dtype=np.float32)
            if fails:
                action[onset - lead + 1 : onset + 1, axis] = -0.9
                closeness[max(0, onset - lead) : onset + 1] = np.linspace(
                    0, 1, onset + 1 - max(0, onset - lead)
                )
            hidden = rng.standard_normal((n, hidden_size)).astype(np.float32)
            weight = closeness if signal_mode == "approach" else np.full(n, float(fails), dtype=np.float32)
            hidden += signal * weight[:, None] * direction[None, :]
            events = np.zeros(n, dtype=np.int32)
            if fails:
                events[onset] = 1
            ident = EpisodeId(policy, "none", "libero_spatial", task, init_state=i // n_tasks, seed=seed)
            record = {
                **ident.as_record(),
                "task": f"task_{task}",
                "episode_index": i,
                "success": not fails,
                "collided": fails,
                "n_collision_onsets": int(fails),
                "first_collision_step": onset,
                "max_collision_force": 80.0 if fails else 0.0,
                "termination_reason": "collision" if fails else "success",
                "steps": n,
                "max_steps": n_steps,
                "wall_time_s": 0.0,
                "n_interventions": 0,
                "first_intervention_step": None,
                "env_kwargs": json.dumps({"synthetic": True}),
            }
            steps = {
                "raw_action": action,
                "executed_action": action,
                "intervention_active": np.zeros(n, dtype=bool),
                "risk_score": closeness + rng.uniform(0, 0.3, n).astype(np.float32),
                "n_collision_events": events,
                "eef_pos": rng.uniform(-0.3, 0.3, (n, 3)).astype(np.float32),
                "eef_quat": np.tile([1.0, 0, 0, 0], (n, 1)).astype(np.float32),
            }
            store.write_episode(record, steps, {feature: hidden})
    return Path(run_dir)
