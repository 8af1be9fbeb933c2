"""Mid-episode disturbances: the target moved, the hand pushed, the grasp slipped, once, at a recorded step.

Unlike the other perturbations these change nothing at reset (the first
observation is the clean one); they act once *during* the episode. The episode
loop calls :meth:`DisturbancePerturbation.disturb` before every env step
(:class:`~mistvla.harness.run.episode.EpisodeStepper` does; a hand-written
loop must too) and the disturbance fires when its trigger is met: at a seeded
step, or (``object_move``) when the gripper first comes within ``radius_m`` of
the object, or (``grasp_slip``) when the object is first held and lifted. What
fired and when is returned (the stepper writes it into the episode record as
``disturbance_step`` / ``disturbance``), and RR(d) is computed over the
episodes in which one fired: success after the disturbance (``docs/metrics.md``).

* ``object_move`` (LIBERO-PRO's runtime move): the object to pick jumps
  ``distance_m`` horizontally in a seeded direction (another drawn direction when
  the first would leave the table or put it inside something), at rest.
* ``push``: an external force of ``force_n`` N in a seeded horizontal direction on
  the gripper for ``substeps`` MuJoCo substeps (25 substeps = one env step), via
  ``xfrc_applied``.
* ``grasp_slip``: once the object is held (gripper touching it, lifted 2 cm
  above where it started), it slips: moved ``shift_m`` down and sideways out of
  the fingers.

>>> ObjectMove.LEVELS[3], Push.LEVELS[5], GraspSlip.LEVELS[1]
({'distance_m': 0.06}, {'force_n': 100.0}, {'shift_m': 0.01})
>>> DisturbanceConfig(step=-1)
Traceback (most recent call last):
...
ValueError: step must be >= 0, got -1
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import gymnasium as gym
import numpy as np

from mistvla.harness.envs.wrappers.base import PerturbationWrapper
from mistvla.harness.envs.wrappers.object_layout import deep_contacts
from mistvla.harness.envs.wrappers.scene_path import inside, task_path
from mistvla.harness.errors import ConfigError

STEP_RANGE = (10, 60)
"""A seeded trigger step is drawn uniformly from this range (clipped below ``max_steps``)."""
LIFTED_M = 0.02
DIRECTIONS = 8


@dataclass(frozen=True)
class DisturbanceConfig:
    trigger: Literal["step", "proximity"] = "step"
    """``step``: at ``step`` (or a seeded step); ``proximity`` (object_move): when the gripper first comes
    within ``radius_m`` of the object; ``grasp_slip`` always fires on the first lifted grasp."""
    step: int | None = None
    """Policy step (0-based) of a ``step`` trigger; None: drawn from the seed in 10-59."""
    radius_m: float = 0.08
    substeps: int = 25
    """``push``: how many MuJoCo substeps the force lasts."""

    def __post_init__(self) -> None:
        if self.step is not None and self.step < 0:
            raise ValueError(f"step must be >= 0, got {self.step}")
        if self.radius_m <= 0:
            raise ValueError(f"radius_m must be > 0, got {self.radius_m}")
        if self.substeps < 1:
            raise ValueError(f"substeps must be >= 1, got {self.substeps}")


class DisturbancePerturbation(PerturbationWrapper):
    """Base class: draws its parameters at reset, fires once from :meth:`disturb`."""

    Config = DisturbanceConfig

    def __init__(self, env: gym.Env, level: int = 0, seed: int = 0, config: Any = None) -> None:
        super().__init__(env, level, seed, config)
        step, limit = self.options.step, int(self.base.max_steps)
        if step is not None and step >= limit:
            raise ConfigError(f"{self.name}.step: {step} is beyond the episode's max_steps {limit}")
        self.fired: dict[str, Any] | None = None
        self._last_info: dict[str, Any] = {}

    def sample(self, rng: np.random.Generator, env: Any) -> dict[str, Any]:
        step = self.options.step
        if step is None:
            step = int(rng.integers(STEP_RANGE[0], min(STEP_RANGE[1], int(env.max_steps))))
        angles = rng.uniform(0.0, 2 * np.pi, DIRECTIONS).round(4).tolist()
        return {**self.level_params(), "trigger": self.options.trigger, "step": step, "angles": angles}

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        self.fired, self._last_info = None, {}
        self._start: dict[str, Any] = {}
        out = super().reset(seed=seed, options=options)
        if self.active:
            self._start = {"path": task_path(self.base)}
        return out

    def step(self, action: Any) -> Any:
        out = self.env.step(action)
        self._last_info = out[4]
        return out

    def disturb(self, step: int, obs: dict[str, Any]) -> dict[str, Any] | None:
        """Fire if the trigger is met at policy step ``step`` (before it runs); the event once, else None."""
        if not self.active or self.fired is not None or not self.due(step, obs):
            return None
        event = self.fire(step, obs)
        self.fired = {"kind": self.name, "level": self.level, "step": step, **event}
        return self.fired

    def due(self, step: int, obs: dict[str, Any]) -> bool:
        return step == self.params["step"]

    def fire(self, step: int, obs: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    # ------------------------------------------------------------------ helpers
    def _object(self) -> tuple[Any, int, int]:
        """(robosuite env, qpos address, dof address) of the object to pick."""
        rs = self.base.unwrapped_libero.env
        name = self._start["path"].obj_name
        model = rs.sim.model._model
        joint = model.joint(rs.objects_dict[name].joints[0]).id
        return rs, int(model.jnt_qposadr[joint]), int(model.jnt_dofadr[joint])

    def _shift_object(self, delta_for: Any) -> dict[str, Any]:
        """Move the object by ``delta_for(angle)`` for the first drawn angle that stays on the table and out of
        everything; returns the record (``moved: false`` if none did)."""
        rs, adr, dof = self._object()
        model, data = rs.sim.model._model, rs.sim.data._data
        start = data.qpos[adr : adr + 7].copy()
        before = deep_contacts(data, model)
        for tries, angle in enumerate(self.params["angles"], start=1):
            delta = np.asarray(delta_for(angle))
            data.qpos[adr : adr + 3] = start[:3] + delta
            data.qvel[dof : dof + 6] = 0.0
            rs.sim.forward()
            if (
                inside(data.qpos[adr : adr + 2], self._start["path"].bounds)
                and deep_contacts(data, model) <= before
            ):
                return {"moved": True, "delta_m": delta.round(4).tolist(), "tries": tries}
        data.qpos[adr : adr + 7] = start
        rs.sim.forward()
        return {"moved": False, "tries": len(self.params["angles"])}


class ObjectMove(DisturbancePerturbation):
    """The object to pick jumps ``distance_m`` sideways, at a seeded step or as the gripper approaches."""

    name = "object_move"
    LEVELS: ClassVar[dict[int, dict[str, Any]]] = {
        lvl: {"distance_m": round(0.02 * lvl, 2)} for lvl in range(1, 6)
    }

    def due(self, step: int, obs: dict[str, Any]) -> bool:
        if self.options.trigger == "step":
            return step == self.params["step"]
        rs, adr, _ = self._object()
        gap = np.linalg.norm(obs["proprio"]["eef_pos"] - rs.sim.data._data.qpos[adr : adr + 3])
        return bool(gap < self.options.radius_m)

    def fire(self, step: int, obs: dict[str, Any]) -> dict[str, Any]:
        d = self.params["distance_m"]
        return self._shift_object(lambda a: [d * np.cos(a), d * np.sin(a), 0.0])


class Push(DisturbancePerturbation):
    """A force of ``force_n`` N on the gripper, horizontal in a seeded direction, for ``substeps`` substeps."""

    name = "push"
    LEVELS: ClassVar[dict[int, dict[str, Any]]] = {
        1: {"force_n": 20.0}, 2: {"force_n": 40.0}, 3: {"force_n": 60.0}, 4: {"force_n": 80.0}, 5: {"force_n": 100.0},
    }  # fmt: skip

    def fire(self, step: int, obs: dict[str, Any]) -> dict[str, Any]:
        rs = self.base.unwrapped_libero.env
        body = rs.sim.model.body_name2id(rs.robots[0].gripper.root_body)
        data = rs.sim.data._data
        angle = self.params["angles"][0]
        force = self.params["force_n"] * np.array([np.cos(angle), np.sin(angle), 0.0])
        remaining = [self.options.substeps]
        original = rs._pre_action

        def pre_action(*args: Any, **kwargs: Any) -> Any:
            out = original(*args, **kwargs)
            if remaining[0] > 0:
                data.xfrc_applied[body, :3] = force
                remaining[0] -= 1
            else:
                data.xfrc_applied[body, :3] = 0.0
                vars(rs).pop("_pre_action", None)  # done: robosuite's own method again
            return out

        rs._pre_action = pre_action
        return {
            "force_n": force.round(3).tolist(),
            "substeps": self.options.substeps,
            "body": rs.robots[0].gripper.root_body,
        }

    def restore(self) -> None:
        rs = self.base.unwrapped_libero.env
        vars(rs).pop("_pre_action", None)
        super().restore()


class GraspSlip(DisturbancePerturbation):
    """The first time the object is held and lifted, it slips ``shift_m`` down and sideways out of the fingers."""

    name = "grasp_slip"
    LEVELS: ClassVar[dict[int, dict[str, Any]]] = {
        lvl: {"shift_m": round(0.01 * lvl, 2)} for lvl in range(1, 6)
    }

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        out = super().reset(seed=seed, options=options)
        if self.active:
            rs, adr, _ = self._object()
            self._start["z"] = float(rs.sim.data._data.qpos[adr + 2])
        return out

    def due(self, step: int, obs: dict[str, Any]) -> bool:
        rs, adr, _ = self._object()
        name = self._start["path"].obj_name
        contacts = self._last_info.get("collisions", {}).get("contacts", ())
        held = any(c["robot_class"] == "gripper" and c["other_owner"] == name for c in contacts)
        return held and float(rs.sim.data._data.qpos[adr + 2]) > self._start["z"] + LIFTED_M

    def fire(self, step: int, obs: dict[str, Any]) -> dict[str, Any]:
        s = self.params["shift_m"]
        return self._shift_object(lambda a: [s * np.cos(a), s * np.sin(a), -s])
