"""Run one episode: env + policy + risk source + intervention, recording everything.

Per step: the risk (before the policy acts; for a source that ``needs_hidden``,
after its forward pass and before the action runs, or inside the pass when it gates
steering: in-pass gating, :mod:`~mistvla.harness.interventions.in_pass`), the gate decision, the policy's
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

from mistvla.harness.envs.tasks import suite_object_names
from mistvla.harness.envs.vectors import environment_vector, state_vector
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
    record = getattr(policy, "last_capture", None)  # HookedPolicy, or the policy server's stand-in
    if record is None:
        return {}
    return {name.replace("/", "__"): arr for name, arr in record.flat().items()}


def _append(cols: dict[str, list[Any]], row: dict[str, Any]) -> None:
    for k, v in row.items():
        cols[k].append(v)


STEP_COLUMNS = (
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
    "state",
    "environment_state",
)


class EpisodeStepper:
    """One episode as a state machine: ``before_policy()``, the policy's action, ``after_policy(raw)``.

    :func:`run_episode` drives one; the lock-step runner
    (:mod:`~mistvla.harness.run.lockstep`) drives several and asks one policy
    for all their actions at once. A crash in the policy or the intervention
    ends the episode as ``crash`` (:meth:`crash`).
    """

    def __init__(
        self,
        env: Any,
        policy: Policy,
        intervention: Intervention,
        risk_source: RiskSource,
        spec: EpisodeSpec,
        video_camera: str | None = None,
    ) -> None:
        self.env, self.policy, self.intervention, self.risk_source = env, policy, intervention, risk_source
        self.spec, self.video_camera = spec, video_camera
        self.started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        self.t0 = time.perf_counter()
        self.cols: dict[str, list[Any]] = {k: [] for k in STEP_COLUMNS}
        self.hidden: dict[str, list[np.ndarray]] = {}
        self.frames: list[np.ndarray] = []
        self.reason, self.error, self.success = "crash", None, False
        self.disturbance: dict[str, Any] | None = None
        self.steps = 0
        self.done = False
        ident = spec.id
        self.obs, info = env.reset(seed=ident.seed, options={"init_state": ident.init_state})
        self.perturbations = info.get("perturbations")  # sampled by perturbation wrappers, if any
        self._guard(self._bind)

    def _bind(self) -> None:
        seed = self.spec.id.episode_seed
        self.policy.bind(self.env)
        self.policy.reset(self.env.instruction, seed=seed)
        self.intervention.reset(seed)
        self.risk_source.reset(self.env)
        if self.risk_source.needs_hidden:  # scored on this step's forward pass, before the action runs
            self.risk_source.bind_policy(self.policy)
        self._gate = None
        if self.risk_source.needs_hidden and self.intervention.needs_hooks:
            from mistvla.harness.interventions.in_pass import InPassGate

            self._gate = InPassGate(self.policy, self.intervention, self.risk_source)

    def around_policy(self) -> Any:
        """The context around this step's forward pass: in-pass gating (hidden-state risk gating
        steering, :mod:`~mistvla.harness.interventions.in_pass`) or the intervention's own."""
        gate = getattr(self, "_gate", None)
        return gate if gate is not None else self.intervention.around_policy(self.policy)

    def _guard(self, fn: Any, *args: Any) -> None:
        try:
            fn(*args)
        except Exception as err:  # a policy/intervention bug must not end the run
            self.crash(err)

    def crash(self, err: BaseException) -> None:
        """End the episode as ``crash``, recording ``err`` and the last frames of its traceback."""
        self.reason, self.done = "crash", True
        self.error = f"{type(err).__name__}: {err}\n" + "".join(traceback.format_tb(err.__traceback__)[-3:])

    def before_policy(self) -> None:
        """Video frame, and the risk and gate of this step unless they need the forward pass."""
        self._guard(self._before)

    def _before(self) -> None:
        if self.video_camera is not None:
            self.frames.append(self.obs["images"][self.video_camera])
        if not self.risk_source.needs_hidden:
            self.risk: RiskSignal = self.risk_source.risk(self.obs)
            self.active = self.intervention.gate(self.risk)
        self.intervention.prepare(self.policy, self.obs)

    def after_policy(self, raw: Any) -> None:
        """Record the step from the policy's raw action and run the executed action in the env."""
        self._guard(self._after, raw)

    def _after(self, raw: Any) -> None:
        raw = np.asarray(raw, dtype=np.float32)
        obs = self.obs
        captured = _captured(self.policy)
        for name, arr in captured.items():
            self.hidden.setdefault(name, []).append(np.asarray(arr))
        if getattr(self, "_gate", None) is not None:  # scored and gated inside the forward pass
            if self._gate.risk is None:
                raise RuntimeError("in-pass gating: the forward pass never reached the risk point")
            self.risk, self.active = self._gate.risk, self.intervention.active
        elif self.risk_source.needs_hidden:
            self.risk = self.risk_source.risk({**obs, "hidden": captured})
            self.active = self.intervention.gate(self.risk)
        risk, active = self.risk, self.active
        applied = self.intervention.apply(raw)
        row = {
            "step": self.steps,
            "raw_action": raw.tolist(),
            "executed_action": applied.action.tolist(),
            "intervention_active": bool(active),
            "risk_score": float(risk.score),
            "risk_per_dim": None if risk.per_dim is None else np.asarray(risk.per_dim).tolist(),
            "eef_pos": obs["proprio"]["eef_pos"].tolist(),
            "eef_quat": obs["proprio"]["eef_quat"].tolist(),
            "state": state_vector(obs).tolist(),
            "environment_state": self._environment_state(obs),
            "n_collision_events": 0,
            "collision_force": None,
        }
        self._disturb(obs)
        self.obs, _, terminated, truncated, info = self.env.step(applied.action)
        self.steps += 1
        coll = info.get("collisions", {})
        row["n_collision_events"] = int(coll.get("n_onsets", 0))
        row["collision_force"] = coll.get("max_collision_force_n")
        _append(self.cols, row)
        if terminated or truncated:
            self.reason = info["termination_reason"]
            self.success = bool(info["is_success"])
            self.error = info.get("error")
            self.done = True
        elif applied.stop_episode:  # the hold step was executed; the episode ends here
            self.reason, self.done = "stopped", True

    def _disturb(self, obs: dict[str, Any]) -> None:
        """The disturbance hook: a mid-episode disturbance (:mod:`~mistvla.harness.envs.wrappers.disturbance`)
        fires here, before the env step, when its trigger is met; the event is recorded once."""
        disturb = getattr(self.env, "disturb", None)
        if disturb is None or self.disturbance is not None:
            return
        event = disturb(self.steps, obs)
        if event is not None:
            self.disturbance = event

    def _environment_state(self, obs: dict[str, Any]) -> list[float] | None:
        """The suite's object poses (``observation.environment_state`` of an export); None unprivileged."""
        if "privileged" not in obs:
            return None
        return environment_vector(obs, suite_object_names(self.spec.id.suite)).tolist()

    def result(self) -> EpisodeResult:
        env, intervention, cols = self.env, self.intervention, self.cols
        summary = env.episode_collision_summary()
        active = cols["intervention_active"]
        risks = [r for r in cols["risk_score"] if r is not None]
        peak = float(np.float32(max(risks))) if risks else None  # as stored: risk_score is float32
        record = {
            **self.spec.id.as_record(),
            "task": env.task_name,
            "episode_index": self.spec.episode_index,
            "success": self.success,
            "collided": bool(summary.get("n_onsets", 0) > 0),
            "n_collision_onsets": int(summary.get("n_onsets", 0)),
            "first_collision_step": summary.get("first_collision_step"),
            "max_collision_force": summary.get("max_collision_force_n"),
            "termination_reason": self.reason,
            "steps": self.steps,
            "max_steps": env.max_steps,
            "wall_time_s": time.perf_counter() - self.t0,
            "n_interventions": int(getattr(intervention, "onsets", 0)),
            "intervention_steps": int(sum(active)),
            "first_intervention_step": getattr(intervention, "first_step", None),
            "error": self.error,
            "env_kwargs": json.dumps(env.config.to_dict(), sort_keys=True, default=str),
            "perturbation_params": json.dumps(self.perturbations, sort_keys=True)
            if self.perturbations
            else None,
            "peak_risk": peak,
            "started_utc": self.started,
            **_obstacle_fields(summary.get("obstacle")),
            "disturbance_step": None if self.disturbance is None else int(self.disturbance["step"]),
            "disturbance": None if self.disturbance is None else json.dumps(self.disturbance, sort_keys=True),
        }
        hidden = {k: np.stack(v) for k, v in self.hidden.items()}
        return EpisodeResult(record=record, steps=cols, hidden=hidden, frames=self.frames)


def _obstacle_fields(summary: dict[str, Any] | None) -> dict[str, Any]:
    """The episode record's obstacle fields from the env's obstacle summary (all None: no obstacles)."""
    if not summary or not summary.get("n_obstacles"):
        return {"obstacle_collided": None, "first_obstacle_step": None, "max_obstacle_displacement_m": None}
    return {
        "obstacle_collided": bool(summary["collided"]),
        "first_obstacle_step": summary["first_step"],
        "max_obstacle_displacement_m": float(summary["max_displacement_m"]),
    }


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
    ep = EpisodeStepper(env, policy, intervention, risk_source, spec, video_camera)
    while not ep.done:
        ep.before_policy()
        if ep.done:
            break
        try:
            with ep.around_policy():
                raw = policy.select_action(ep.obs)
        except Exception as err:  # a policy/intervention bug must not end the run
            ep.crash(err)
            break
        ep.after_policy(raw)
    return ep.result()
