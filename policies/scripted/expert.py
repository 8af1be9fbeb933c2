"""A scripted pick-and-place expert for LIBERO, closed loop on privileged object poses.

It executes the task's BDDL goal ``(On obj target)`` / ``(In obj container)``
as approach -> descend -> grasp -> lift -> transport -> place -> release ->
retreat with 7-D delta end-effector actions (OSC_POSE: ``a[:3]`` in units of
5 cm, ``a[3:6]`` world axis-angle in units of 0.5 rad, ``a[6]`` -1 open / +1
close). Every step it recomputes its targets from ``obs["privileged"]`` poses,
so it follows objects that move. A failed grasp or a missed placement is
retried (``max_attempts``).

Task knowledge is static and given once: :meth:`ScriptedExpert.bind` builds a
:class:`~mistvla.policies.scripted.goals.TaskSpec` from the env (BDDL goal +
object boxes from the model) and raises
:class:`~mistvla.policies.scripted.goals.UnsupportedTaskError` for goals it
cannot script. During an episode it reads only the observation.

>>> ScriptedExpert().reset("pick up the bowl")
Traceback (most recent call last):
...
RuntimeError: ScriptedExpert has no task: call bind(env) (or pass spec=) before reset()
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from mistvla.harness.errors import UnsupportedTaskError
from mistvla.policies.base import Policy, PolicyRequirements
from mistvla.policies.scripted.goals import TaskSpec, task_spec_from_env
from mistvla.policies.scripted.grasps import (
    GRIPPER_MAX_OPENING,
    Grasp,
    best_yaw,
    bottom_z,
    down_rotation,
    horizontal_axes,
    obstacle_boxes,
    path_clearance_height,
    plan_grasp,
    quat_xyzw_to_matrix,
    rotation_error,
    top_z,
    yaw_for_closing_axis,
)
from mistvla.policies.scripted.perturbations import EpisodePerturbation, PerturbationConfig

__all__ = ["PerturbationConfig", "ScriptedExpert", "UnsupportedTaskError"]

POS_SCALE = 0.05  # m per unit action (controller output_max)
ROT_SCALE = 0.5  # rad per unit action
OPEN, CLOSE = -1.0, 1.0


class ScriptedExpert(Policy):
    """Top-down pick-and-place from privileged poses; optional seeded perturbations."""

    name = "scripted"
    requirements = PolicyRequirements(cameras=(), privileged=True)

    @dataclass(frozen=True)
    class Config:
        perturbation: PerturbationConfig | None = None
        max_attempts: int = 3
        hover: float = 0.08
        settle_grasp: bool = False

    def __init__(
        self,
        spec: TaskSpec | None = None,
        perturbation: PerturbationConfig | None = None,
        max_attempts: int = 3,
        hover: float = 0.08,
        settle_grasp: bool = False,
    ) -> None:
        """``settle_grasp``: end the grasp when the fingers have stopped closing (their summed
        opening changed < 1 mm over 6 steps, at most 30 steps) instead of after a fixed 12 steps;
        a learner that sees the fingers' recent change can then tell when to lift (with the timer,
        a clean grasp looks the same for several steps before the lift; measured: a policy trained on
        it closed on the tomato sauce and then held still, 3/10)."""
        super().__init__()
        self.spec = spec
        self._bound_to: Any = None
        self.perturbation = perturbation or PerturbationConfig()
        self.max_attempts = max_attempts
        self.hover = hover
        self.settle_grasp = settle_grasp
        self._episode = 0
        self.episode_perturbation: EpisodePerturbation | None = None
        self.phase = "done"
        self.phase_log: list[tuple[int, str]] = []
        self.last_clean_action: np.ndarray | None = None
        """The last action before ``action_noise``: the label of DART-style demonstrations."""

    # ---------------------------------------------------------------- setup
    def bind(self, env: Any) -> TaskSpec:  # type: ignore[override]
        """Read the static task description of ``env`` (a LiberoEnv); raises UnsupportedTaskError.

        Binding the same env again reuses the description (it is static).
        """
        if self.spec is None or self._bound_to is not env or self.spec.instruction != env.instruction:
            self.spec = task_spec_from_env(env)
            self._bound_to = env
        return self.spec

    def reset(self, instruction: str, *, seed: int | None = None) -> None:
        """Start an episode; ``seed`` (default: a running episode count) seeds the perturbations."""
        if self.spec is None:
            raise RuntimeError("ScriptedExpert has no task: call bind(env) (or pass spec=) before reset()")
        if instruction != self.spec.instruction:
            raise ValueError(
                f"instruction {instruction!r} is not the bound task's {self.spec.instruction!r}; bind the new env"
            )
        super().reset(instruction, seed=seed)
        if seed is not None:
            self._episode = int(seed)
        self.episode_perturbation = self.perturbation.sample(self._episode)
        self._episode += 1
        p = self.episode_perturbation
        self._noise = p.noise_rng()
        goal = self.spec.goal
        self.grasp_obj = goal.obj
        if p.wrong_object:
            self.grasp_obj = p.pick_distractor(
                goal.obj, [m for m in self.spec.movable if m != goal.target_object]
            )
        self.attempts = 0
        self.t = 0
        self.phase_log = []
        self._set_phase("approach")

    # -------------------------------------------------------------- helpers
    def _set_phase(self, phase: str) -> None:
        self.phase = phase
        self._phase_t = 0
        self._hist: list[np.ndarray] = []
        self._fingers: list[Any] = []
        self.phase_log.append((self.t, phase))

    def _plan(self, obs: dict[str, Any]) -> Grasp:
        poses = obs["privileged"]
        shape = self.spec.shapes[self.grasp_obj]
        _, short_ext, _, _ = horizontal_axes(poses[self.grasp_obj], shape)
        rim = "bowl" in self.grasp_obj or short_ext > GRIPPER_MAX_OPENING
        obstacles = obstacle_boxes(poses, self.spec.shapes, {self.grasp_obj})
        rot = quat_xyzw_to_matrix(obs["proprio"]["eef_quat"])
        grasp = plan_grasp(poses[self.grasp_obj], shape, obstacles, rot, rim)
        p = self.episode_perturbation
        point = grasp.point + np.array([*p.grasp_offset_xy, -p.overshoot])
        return Grasp(point, grasp.axis_xy, grasp.kind)

    def _move(self, obs: dict[str, Any], target: np.ndarray, yaw: float | None, gripper: float, vmax: float):
        eef = obs["proprio"]["eef_pos"]
        rot = quat_xyzw_to_matrix(obs["proprio"]["eef_quat"])
        scale = self.episode_perturbation.speed_scale
        dpos = (target - eef) / POS_SCALE * scale
        cap = vmax * scale
        n = np.linalg.norm(dpos)
        if n > cap:
            dpos *= cap / n
        desired = down_rotation(best_yaw(yaw, rot) if yaw is not None else _current_yaw(rot))
        drot = np.clip(rotation_error(desired, rot) / ROT_SCALE * 1.5, -1.0, 1.0)
        return np.concatenate([dpos, drot, [gripper]]), float(np.linalg.norm(target - eef))

    def _held_offset(self, obs: dict[str, Any]) -> np.ndarray:
        """Grip point minus object position (how the object hangs in the hand)."""
        return obs["proprio"]["eef_pos"] - obs["privileged"][self.grasp_obj][:3]

    @staticmethod
    def _still(hist: list[Any], value: Any, tol: float, window: int = 6) -> bool:
        """Append ``value``; True once it moved less than ``tol`` over the last ``window`` steps."""
        hist.append(np.copy(value))
        return len(hist) > window and float(np.linalg.norm(hist[-1] - hist[-1 - window])) < tol

    def _stalled(self, obs: dict[str, Any]) -> bool:
        return self._still(self._hist, obs["proprio"]["eef_pos"], tol=0.002)

    def _settled(self, finger: float) -> bool:
        return self._still(self._fingers, finger, tol=0.001)

    def _placed(self, obs: dict[str, Any]) -> bool:
        poses, goal = obs["privileged"], self.spec.goal
        obj, tgt = poses[self.grasp_obj], poses[goal.target_object]
        dxy = float(np.linalg.norm(obj[:2] - tgt[:2]))
        if goal.relation == "on":
            return dxy < 0.025 and obj[2] >= tgt[2]
        return dxy < 0.05 and bottom_z(obj, self.spec.shapes[self.grasp_obj]) < top_z(
            tgt, self.spec.shapes[goal.target_object]
        )

    def _retry(self) -> None:
        self.attempts += 1
        self._set_phase("approach" if self.attempts < self.max_attempts else "done")

    # ---------------------------------------------------------------- act
    def select_action(self, obs: dict[str, Any]) -> np.ndarray:
        """One 7-D action from the current phase; advances the phase when its goal is reached."""
        if "privileged" not in obs:
            raise KeyError("ScriptedExpert needs privileged observations: make the env with privileged=True")
        self._phase_t += 1  # 1 on the first step of a phase
        acting_phase = self.phase
        action = self._act(obs)
        self.t += 1
        self.last_clean_action = np.clip(action, -1.0, 1.0).astype(np.float32)  # before action_noise
        p = self.episode_perturbation
        if p.action_noise > 0 and acting_phase not in self.perturbation.quiet_phases:
            action[:6] += self._noise.normal(0.0, p.action_noise, 6)
        return np.clip(action, -1.0, 1.0).astype(np.float32)

    def _act(self, obs: dict[str, Any]) -> np.ndarray:
        poses = obs["privileged"]
        eef = obs["proprio"]["eef_pos"]
        finger = float(np.sum(np.abs(obs["proprio"]["gripper_qpos"])))
        phase = self.phase
        if phase == "approach":
            self._grasp = self._plan(obs)
            yaw = yaw_for_closing_axis(self._grasp.axis_xy)
            # Hover above the grasp, high enough to clear everything near it.
            if self._phase_t == 1:  # no lower than now (clear of what is below), at most 25 cm up
                self._hover_z = min(
                    max(self._grasp.point[2] + self.hover, eef[2]), self._grasp.point[2] + 0.25
                )
            target = np.array([*self._grasp.point[:2], self._hover_z])
            act, err = self._move(obs, target, yaw, OPEN, 1.0)
            rot = quat_xyzw_to_matrix(obs["proprio"]["eef_quat"])
            yaw_err = float(np.linalg.norm(rotation_error(down_rotation(best_yaw(yaw, rot)), rot)))
            if (err < 0.015 and yaw_err < 0.08) or self._phase_t > 80:
                self._set_phase("descend")
            return act
        if phase == "descend":
            self._grasp = self._plan(obs)
            yaw = yaw_for_closing_axis(self._grasp.axis_xy)
            act, err = self._move(obs, self._grasp.point, yaw, OPEN, 0.6)
            if err < 0.008 or self._stalled(obs) or self._phase_t > 50:
                self._set_phase("grasp")
            return act
        if phase == "grasp":
            act, _ = self._move(obs, self._grasp.point, yaw_for_closing_axis(self._grasp.axis_xy), CLOSE, 0.3)
            act[:3] = 0.0
            if self.settle_grasp:
                done = self._settled(finger) or self._phase_t >= 30
            else:
                done = self._phase_t >= 12
            if done:
                self._rest_z = poses[self.grasp_obj][2]
                self._set_phase("lift")
            return act
        shape = self.spec.shapes[self.grasp_obj]
        goal = self.spec.goal
        tgt_pose = poses[goal.target_object]
        if phase in ("lift", "transport"):
            obstacles = obstacle_boxes(poses, self.spec.shapes, {self.grasp_obj})
            clear = path_clearance_height(poses[self.grasp_obj][:2], tgt_pose[:2], obstacles)
            below = eef[2] - bottom_z(poses[self.grasp_obj], shape)
            carry_z = max(clear + 0.05, top_z(tgt_pose, self.spec.shapes[goal.target_object]) + 0.05) + below
            if phase == "lift":
                act, _ = self._move(obs, np.array([eef[0], eef[1], carry_z]), None, CLOSE, 0.6)
                lifted = poses[self.grasp_obj][2] - self._rest_z
                if eef[2] > carry_z - 0.02 or self._phase_t > 40:
                    if lifted < 0.02 or finger < 0.002:
                        self._retry()  # the object stayed behind: grasp again
                    else:
                        self._set_phase("transport")
                return act
            offset = self._held_offset(obs)
            target = np.array([tgt_pose[0] + offset[0], tgt_pose[1] + offset[1], carry_z])
            act, _ = self._move(obs, target, None, CLOSE, 1.0)
            xy_err = float(np.linalg.norm(poses[self.grasp_obj][:2] - tgt_pose[:2]))
            if np.linalg.norm(offset) > 0.15:
                self._retry()  # dropped on the way
            elif xy_err < 0.012 or self._phase_t > 80:
                self._set_phase("place")
            return act
        if phase == "place":
            offset = self._held_offset(obs)
            tgt_shape = self.spec.shapes[goal.target_object]
            if goal.relation == "on":
                release_bottom = top_z(tgt_pose, tgt_shape) + 0.01
            else:
                release_bottom = bottom_z(tgt_pose, tgt_shape) + 0.04
            dz = release_bottom - bottom_z(poses[self.grasp_obj], shape)
            target = np.array([tgt_pose[0] + offset[0], tgt_pose[1] + offset[1], eef[2] + dz])
            act, _ = self._move(obs, target, None, CLOSE, 0.5)
            if dz > -0.005 or self._stalled(obs) or self._phase_t > 60:
                self._set_phase("release")
            return act
        if phase == "release":
            act, _ = self._move(obs, eef, None, OPEN, 0.2)
            act[:3] = 0.0
            if self._phase_t >= 8:
                self._set_phase("retreat")
            return act
        if phase == "retreat":
            if self._phase_t == 1:
                self._retreat_z = eef[2] + 0.1
            act, err = self._move(obs, np.array([eef[0], eef[1], self._retreat_z]), None, OPEN, 1.0)
            if err < 0.02 or self._phase_t > 30:
                if self._placed(obs):
                    self._set_phase("done")
                else:
                    self._retry()
            return act
        act, _ = self._move(obs, eef, None, OPEN, 0.2)
        act[:3] = 0.0
        return act


def _current_yaw(rot: np.ndarray) -> float:
    """The yaw of the down-pointing hand closest to ``rot``."""
    axis = rot[:2, 1]
    return float(np.arctan2(axis[0], -axis[1]))
