"""Run one episode: env + policy + risk source + intervention, recording everything.

Per step: the risk (before the policy acts; for a source that ``needs_hidden``,
after its forward pass and before the action runs), the gate decision, the policy's
raw action (with steering hooks armed if the intervention steers), the
executed action, collision onsets and the end-effector pose. A crash in the
policy or the intervention is recorded as termination ``crash`` with the
error, and the run goes on; a simulator failure arrives from the env as
``physics_error``.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import traceback
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from mistvla.harness.interventions.base import Intervention
from mistvla.harness.risk.base import RiskSignal, RiskSource
from mistvla.harness.run.plan import EpisodeSpec

if TYPE_CHECKING:
    from mistvla.policies.base import Policy


@dataclass
class EpisodeResult:
    record: dict[str, Any]
    steps: dict[str, list[Any]]
    hidden: dict[str, np.ndarray] = field(default_factory=dict)
    frames: list[np.ndarray] = field(default_factory=list)


def _captured(policy: Policy) -> dict[str, np.ndarray]:
    """The hidden states the policy captured at this step, ``{"<point>__<position>": array}``.

    Names become shard file names in the results store, so ``/`` is replaced.
    """
    from mistvla.policies.base import HookedPolicy  # harness imports policies only inside functions

    record = policy.last_capture if isinstance(policy, HookedPolicy) else None
    if record is None:
        return {}
    return {name.replace("/", "__"): arr for name, arr in record.flat().items()}


def _append(cols: dict[str, list[Any]], row: dict[str, Any]) -> None:
    for k, v in row.items():
        cols[k].append(v)


def run_episode(
    env: Any,
    policy: Policy,
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
    ident = spec.id
    seed = ident.episode_seed
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
    obs, info = env.reset(seed=ident.seed, options={"init_state": ident.init_state})
    perturbations = info.get("perturbations")  # sampled by perturbation wrappers, if any
    try:
        policy.bind(env)
        policy.reset(env.instruction, seed=seed)
        intervention.reset(seed)
        risk_source.reset(env)
        if risk_source.needs_hidden:  # scored on this step's forward pass, before the action runs
            risk_source.bind_policy(policy)
        while True:
            if video_camera is not None:
                frames.append(obs["images"][video_camera])
            if not risk_source.needs_hidden:
                risk: RiskSignal = risk_source.risk(obs)
                active = intervention.gate(risk)
            with intervention.around_policy(policy):
                raw = np.asarray(policy.select_action(obs), dtype=np.float32)
            captured = _captured(policy)
            for name, arr in captured.items():
                hidden.setdefault(name, []).append(np.asarray(arr))
            if risk_source.needs_hidden:
                risk = risk_source.risk({**obs, "hidden": captured})
                active = intervention.gate(risk)
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
            if applied.stop_episode:  # the hold step was executed; the episode ends here
                reason = "stopped"
                break
    except Exception as err:  # a policy/intervention bug must not end the run
        reason = "crash"
        error = f"{type(err).__name__}: {err}\n" + "".join(traceback.format_tb(err.__traceback__)[-3:])
    summary = env.episode_collision_summary()
    active = cols["intervention_active"]
    risks = [r for r in cols["risk_score"] if r is not None]
    peak = float(np.float32(max(risks))) if risks else None  # as stored: risk_score is float32
    record = {
        **ident.as_record(),
        "task": env.task_name,
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
        "perturbation_params": json.dumps(perturbations, sort_keys=True) if perturbations else None,
        "peak_risk": peak,
        "started_utc": started,
    }
    return EpisodeResult(
        record=record, steps=cols, hidden={k: np.stack(v) for k, v in hidden.items()}, frames=frames
    )
