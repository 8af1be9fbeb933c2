"""Run one episode: env + policy + risk source + intervention, recording everything.

Per step: the risk (before the policy acts), the gate decision, the policy's
raw action (with steering hooks armed if the intervention steers), the
executed action, collision onsets and the end-effector pose. A crash in the
policy or the intervention is recorded as termination ``crash`` with the
error, and the run goes on; a simulator failure arrives from the env as
``physics_error``.
"""

from __future__ import annotations

import datetime as dt
import inspect
import json
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .interventions import Intervention, RiskSignal
from .results_schema import episode_key
from .risk_sources import RiskSource


@dataclass(frozen=True)
class EpisodeSpec:
    """What identifies (and reproduces) one episode."""

    policy: str
    intervention: str
    suite: str
    task_index: int
    init_state: int
    seed: int
    repeat: int = 0
    episode_index: int = 0
    calibration: bool = False

    @property
    def key(self) -> str:
        return episode_key(
            self.policy,
            self.intervention,
            self.suite,
            self.task_index,
            self.init_state,
            self.seed,
            self.repeat,
        )

    @property
    def episode_seed(self) -> int:
        """Seed of the env reset and of every random choice in the episode (policy, intervention)."""
        return int(
            np.random.SeedSequence([self.seed, self.task_index, self.init_state, self.repeat]).generate_state(
                1
            )[0]
        )


@dataclass
class EpisodeResult:
    record: dict[str, Any]
    steps: dict[str, list[Any]]
    hidden: dict[str, np.ndarray] = field(default_factory=dict)
    peak_risk: float = float("nan")
    frames: list[np.ndarray] = field(default_factory=list)


def _reset_policy(policy: Any, env: Any, seed: int) -> None:
    """Bind the policy to the env's task if it reads one (scripted policies), then reseed it."""
    if hasattr(policy, "bind"):
        policy.bind(env)
    params = inspect.signature(policy.reset).parameters
    if "seed" in params:
        policy.reset(env.instruction, seed=seed)
    elif "episode" in params:
        policy.reset(env.instruction, episode=seed)
    else:
        policy.reset(env.instruction)


def _captured(policy: Any) -> dict[str, np.ndarray]:
    """The hidden states the policy captured at this step, ``{"<point>__<position>": array}``.

    Names become shard file names in the results store, so ``/`` is replaced.
    """
    record = getattr(policy, "last_capture", None)
    if record is None:
        return {}
    flat = record.flat() if hasattr(record, "flat") else dict(record)
    return {name.replace("/", "__"): arr for name, arr in flat.items()}


def _append(cols: dict[str, list[Any]], row: dict[str, Any]) -> None:
    for k, v in row.items():
        cols[k].append(v)


def run_episode(
    env: Any,
    policy: Any,
    intervention: Intervention,
    risk_source: RiskSource,
    spec: EpisodeSpec,
    video_camera: str | None = None,
) -> EpisodeResult:
    """Run ``spec`` to its end and return the episode record, the step columns and hidden states.

    With ``video_camera``, that camera's frames (one per step, from the
    observations the policy saw) are returned in ``EpisodeResult.frames``.
    """
    started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    t0 = time.perf_counter()
    seed = spec.episode_seed
    cols: dict[str, list[Any]] = {
        k: []
        for k in (
            "step",
            "raw_action",
            "executed_action",
            "intervention_active",
            "risk_score",
            "risk_per_dim",
            "n_collision_events",
            "collision_force",
            "eef_pos",
            "eef_quat",
        )
    }
    hidden: dict[str, list[np.ndarray]] = {}
    frames: list[np.ndarray] = []
    reason, error, success = "crash", None, False
    steps = 0
    obs, info = env.reset(seed=spec.seed, options={"init_state": spec.init_state})
    try:
        _reset_policy(policy, env, seed)
        intervention.reset(seed)
        risk_source.reset(env)
        while True:
            if video_camera is not None:
                frames.append(obs["images"][video_camera])
            risk: RiskSignal = risk_source.risk(obs)
            active = intervention.gate(risk)
            with intervention.around_policy(policy):
                raw = np.asarray(policy.select_action(obs), dtype=np.float32)
            for name, arr in _captured(policy).items():
                hidden.setdefault(name, []).append(np.asarray(arr))
            applied = intervention.apply(raw)
            row = {
                "step": steps,
                "raw_action": raw.tolist(),
                "executed_action": applied.action.tolist(),
                "intervention_active": bool(active),
                "risk_score": float(risk.score),
                "risk_per_dim": None if risk.per_dim is None else np.asarray(risk.per_dim).tolist(),
                "eef_pos": obs["proprio"]["eef_pos"].tolist(),
                "eef_quat": obs["proprio"]["eef_quat"].tolist(),
                "n_collision_events": 0,
                "collision_force": None,
            }
            if applied.stop_episode:
                _append(cols, row)
                reason = "stopped"
                break
            obs, _, terminated, truncated, info = env.step(applied.action)
            steps += 1
            coll = info.get("collisions", {})
            row["n_collision_events"] = int(coll.get("n_onsets", 0))
            row["collision_force"] = coll.get("max_collision_force_n")
            _append(cols, row)
            if terminated or truncated:
                reason = info["termination_reason"]
                success = bool(info["is_success"])
                error = info.get("error")
                break
    except Exception as err:  # a policy/intervention bug must not end the run
        reason = "crash"
        error = f"{type(err).__name__}: {err}\n" + "".join(traceback.format_tb(err.__traceback__)[-3:])
    summary = env.episode_collision_summary()
    active = cols["intervention_active"]
    record = {
        "policy": spec.policy,
        "intervention": spec.intervention,
        "suite": spec.suite,
        "task": env.task_name,
        "task_index": spec.task_index,
        "init_state": spec.init_state,
        "seed": spec.seed,
        "repeat": spec.repeat,
        "episode_index": spec.episode_index,
        "success": success,
        "collided": bool(summary.get("n_onsets", 0) > 0),
        "n_collision_onsets": int(summary.get("n_onsets", 0)),
        "first_collision_step": summary.get("first_collision_step"),
        "max_collision_force": summary.get("max_collision_force_n"),
        "termination_reason": reason,
        "steps": steps,
        "max_steps": env.max_steps,
        "wall_time_s": time.perf_counter() - t0,
        "n_interventions": int(getattr(intervention, "onsets", 0)),
        "intervention_steps": int(sum(active)),
        "first_intervention_step": getattr(intervention, "first_step", None),
        "error": error,
        "env_kwargs": json.dumps(env.config.to_dict(), sort_keys=True, default=str),
        "started_utc": started,
    }
    risks = [r for r in cols["risk_score"] if r is not None]
    return EpisodeResult(
        record=record,
        steps=cols,
        hidden={k: np.stack(v) for k, v in hidden.items()},
        peak_risk=max(risks) if risks else float("nan"),
        frames=frames,
    )
