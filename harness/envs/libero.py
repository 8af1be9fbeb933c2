"""One LIBERO task as a ``gymnasium.Env``.

Example (building an env takes ~8 s, so it is not a doctest)::

    env = LiberoEnv("libero_spatial", 0, cameras=())
    obs, info = env.reset(seed=0, options={"init_state": 3})

Reset uses LIBERO's shipped init states (``options={"init_state": k}``; by
default ``seed % n_init_states``) and seeds the global NumPy RNG that LIBERO
uses to re-place fixtures at every reset, so that the same (seed, init state)
gives the same simulator state, hard or soft reset. It then runs the warm-up
used by published OpenVLA and LeRobot evaluations: ``warmup_steps`` no-op
steps with the gripper open (not counted as policy steps).

``info`` carries ``is_success`` (LIBERO's own goal predicate),
``termination_reason`` (see :mod:`~mistvla.harness.envs.termination`), the
collision ledger's per-step record under ``collisions`` and, at the end of an
episode, its summary under ``episode_collisions``.
"""

from __future__ import annotations

import contextlib
import io
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from mistvla.harness.envs.collisions.ledger import CollisionLedger
from mistvla.harness.envs.collisions.obstacles import ObstacleMonitor
from mistvla.harness.envs.config import LiberoEnvConfig
from mistvla.harness.envs.observations import WorkspaceBounds, build_observation, observation_space
from mistvla.harness.envs.rendering import activate_renderer, blank_camera_renders
from mistvla.harness.envs.scene_objects import SceneObjects
from mistvla.harness.envs.setup import ensure_libero
from mistvla.harness.envs.tasks import get_task, load_init_states, step_limit
from mistvla.harness.envs.termination import (
    DropDetector,
    gripper_contacts,
    instability_count,
    physics_failure,
)
from mistvla.harness.errors import InvalidActionError, InvalidResetError

GRIPPER_OPEN = -1.0
NOOP_ACTION = np.array([0, 0, 0, 0, 0, 0, GRIPPER_OPEN], dtype=np.float64)


class LiberoEnv(gym.Env):
    """A LIBERO task with 7-D delta end-effector actions, a collision ledger and named terminations."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 20}
    blank_reset_renders: bool = True
    """Skip rendering the reset's frames the policy never sees (False: render all, as robosuite does)."""

    def __init__(
        self,
        suite: str,
        task: int | str,
        config: LiberoEnvConfig | None = None,
        render_mode: str | None = None,
        **config_kwargs: Any,
    ) -> None:
        if config is not None and config_kwargs:
            raise TypeError("pass either config= or keyword settings, not both")
        if "cameras" in config_kwargs:
            config_kwargs["cameras"] = tuple(config_kwargs["cameras"])
        self.config = config or LiberoEnvConfig(**config_kwargs)
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        self.render_mode = render_mode
        self.task_info = get_task(suite, task)
        self.suite = suite
        self.task_name = self.task_info.name
        self.instruction = self.task_info.instruction
        self.init_states = load_init_states(suite, self.task_info.index)
        self.max_steps = self.config.max_steps or step_limit(suite, self.config.protocol)
        self._cameras = self.config.cameras
        self._libero = self._make_libero_env()
        rs = self._libero.env
        self.object_names = tuple(list(rs.objects_dict) + list(rs.fixtures_dict))
        self.target_objects = tuple(rs.obj_of_interest)
        model = rs.sim.model
        fingers = [model.joint_name2id(j) for j in rs.robots[0].gripper.joints]
        self.observation_space = observation_space(
            self._cameras,
            self.config.image_size,
            self.object_names if self.config.privileged else None,
            WorkspaceBounds.from_model(model._model, fingers),
        )
        self.action_space = gym.spaces.Box(-1.0, 1.0, (7,), np.float32)
        self._ledger = CollisionLedger(self.config.collision)
        self._drops = DropDetector(self.config.drop)
        self.scene = SceneObjects()  # extra objects (obstacles, distractors) perturbations ask for
        self._obstacles = ObstacleMonitor()
        self._steps = 0
        self._done = True
        self._needs_hard_reset = False
        self._last_raw: dict[str, Any] | None = None
        self.episode: dict[str, Any] = {}

    def _make_libero_env(self) -> Any:
        ensure_libero()
        from libero.libero.envs import OffScreenRenderEnv

        render = bool(self._cameras)
        kwargs = dict(
            bddl_file_name=self.task_info.bddl_file,
            has_offscreen_renderer=render,
            use_camera_obs=render,
            camera_names=list(self._cameras) or ["agentview"],
            camera_heights=self.config.image_size,
            camera_widths=self.config.image_size,
            control_freq=self.config.control_freq,
            # robosuite refuses to step past its horizon; ours ends first.
            horizon=self.config.warmup_steps + self.max_steps,
            ignore_done=False,
            hard_reset=self.config.hard_reset,
        )
        with contextlib.redirect_stdout(io.StringIO()):
            env = OffScreenRenderEnv(**kwargs)
        if not render:  # OffScreenRenderEnv forces the renderer on; turn it off.
            env.env.has_offscreen_renderer = False
        return env

    @property
    def unwrapped_libero(self) -> Any:
        """LIBERO's ``OffScreenRenderEnv`` (its ``.env`` is the robosuite env)."""
        return self._libero

    @property
    def sim(self) -> Any:
        return self._libero.env.sim

    def _body_ids(self) -> dict[str, int]:
        rs = self._libero.env
        model = rs.sim.model
        objs = {**rs.objects_dict, **rs.fixtures_dict}
        return {name: model.body_name2id(obj.root_body) for name, obj in objs.items()}

    def _target_heights(self) -> dict[str, float]:
        data = self.sim.data._data
        return {n: float(data.xpos[self._bodies[n]][2]) for n in self.target_objects if n in self._bodies}

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        super().reset(seed=seed)
        spec_limit = self.spec.max_episode_steps if self.spec is not None else None
        if spec_limit is not None and spec_limit != self.max_steps:
            raise ValueError(
                f"the Gymnasium spec cuts episodes at {spec_limit} steps but this env's protocol "
                f"{self.config.protocol!r} / max_steps gives {self.max_steps}; pass "
                f"max_episode_steps={self.max_steps} to gymnasium.make as well"
            )
        options = dict(options or {})
        unknown = set(options) - {"init_state", "before_warmup", "scene_objects"}
        if unknown:
            raise InvalidResetError(
                f"unknown reset option(s) {sorted(unknown)}; known: ['before_warmup', 'init_state', 'scene_objects']"
            )
        episode_seed = int(seed) if seed is not None else int(self.np_random.integers(2**31 - 1))
        n_states = len(self.init_states)
        init_state = options.get("init_state")
        if init_state is None:
            init_state = episode_seed % n_states
        if not (isinstance(init_state, (int, np.integer)) and 0 <= int(init_state) < n_states):
            raise InvalidResetError(f"init_state must be an int in [0, {n_states - 1}], got {init_state!r}")
        init_state = int(init_state)

        rs = self._libero.env
        activate_renderer(rs, reflections=self.config.reflections)
        extras = tuple(options.get("scene_objects", ()))
        rebuild = self.scene.needs_rebuild(extras)  # a new set of extra objects: one model rebuild
        if rebuild:
            self.scene.prepare(rs, extras)
        if (self._needs_hard_reset or rebuild) and not rs.hard_reset:
            rs.hard_reset = True
        # LIBERO places fixtures from the global NumPy RNG at every reset; seed it for this reset only and give
        # the caller's RNG state back afterwards. Only the last warm-up step's frame reaches the policy: the
        # frames of the reset and of the other warm-up steps are not rendered (blank_renders).
        blank = self.blank_reset_renders and self.config.warmup_steps > 0
        saved = np.random.get_state()
        try:
            np.random.seed(episode_seed)
            with contextlib.redirect_stdout(io.StringIO()):
                with blank_camera_renders(rs, blank and not rs.hard_reset):
                    self._libero.reset()  # a hard reset rebuilds the observables: not blanked
                if rs.hard_reset:
                    self.scene.after_build(rs)
                with blank_camera_renders(rs, blank):
                    raw = self._restore_init_state(self.scene.start_episode(self.init_states[init_state], rs))
        finally:
            np.random.set_state(saved)
            rs.hard_reset = self.config.hard_reset
        self._needs_hard_reset = False
        self._bodies = self._body_ids()
        self._ledger.attach(rs)
        # Perturbation wrappers change the restored scene here (callables taking this env).
        hooks = list(options.get("before_warmup", ()))
        for hook in hooks:
            hook(self)
        if hooks and not self.config.warmup_steps:
            rs.sim.forward()
            raw = rs._get_observations(force_update=True)
        for k in range(self.config.warmup_steps):
            with blank_camera_renders(rs, blank and k < self.config.warmup_steps - 1):
                raw, _, _, _ = rs.step(NOOP_ACTION)
        self._ledger.reset()
        self._obstacles.reset(self.sim, self.scene.placed_obstacles())
        self._steps = 0
        self._done = False
        self._last_raw = raw
        self._drops.reset(self._target_heights())
        self._gripper_mask, self._geom_root = self._gripper_geometry()
        self.episode = {
            "suite": self.suite,
            "task": self.task_name,
            "task_index": self.task_info.index,
            "init_state": init_state,
            "seed": episode_seed,
            "instruction": self.instruction,
            "max_steps": self.max_steps,
            "env_config": self.config.to_dict(),
        }
        if self.scene.placed:
            self.episode["scene_objects"] = self.scene.placed_record()
        info = {**self.episode, "is_success": bool(rs._check_success())}
        return self._observation(raw), info

    def _restore_init_state(self, state: np.ndarray) -> dict[str, Any]:
        """Set LIBERO's saved state and clear what a soft reset would otherwise carry over.

        A saved state is (time, qpos, qvel). After a soft reset MuJoCo's
        warm-start accelerations and actuator controls still hold the previous
        episode's values, and robosuite's Panda gripper keeps its ramped command
        (``current_action``); zeroing them makes a soft reset identical to a
        hard one. The arm's controller was rebuilt by ``reset()`` at the robot's
        initial joint pose (as in a hard reset); under the ``published``
        protocol it keeps that goal, so the no-op warm-up pulls the arm toward
        it exactly as in raw LIBERO, OpenVLA's ``run_libero_eval.py`` and
        LeRobot's ``LiberoEnv``. Under ``settled`` the controller is re-read at
        the restored pose and its goal set there, so the warm-up holds the
        saved arm pose (see docs/running.md for the measured difference).
        """
        rs = self._libero.env
        data = rs.sim.data._data
        for name in ("qacc_warmstart", "ctrl", "act", "qfrc_applied", "xfrc_applied"):
            getattr(data, name)[:] = 0.0
        raw = self._libero.set_init_state(state)
        for robot in rs.robots:
            robot.gripper.current_action = np.zeros(robot.gripper.dof)
            if self.config.reset_protocol == "settled":
                robot.controller.update(force=True)
                robot.controller.reset_goal()
        return raw

    def _gripper_geometry(self) -> tuple[np.ndarray, np.ndarray]:
        rs = self._libero.env
        model = rs.sim.model._model
        gripper_root = model.body(rs.robots[0].gripper.root_body).id
        in_gripper = np.zeros(model.nbody, dtype=bool)
        for b in range(model.nbody):
            a = b
            while a != 0 and a != gripper_root:
                a = model.body_parentid[a]
            in_gripper[b] = a == gripper_root
        return in_gripper[model.geom_bodyid], model.body_rootid[model.geom_bodyid]

    def _observation(self, raw: dict[str, Any]) -> dict[str, Any]:
        bodies = self._bodies if self.config.privileged else None
        return build_observation(raw, self._cameras, bodies, self.sim.data._data)

    def _check_action(self, action: Any) -> np.ndarray:
        try:
            arr = np.asarray(action, dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise InvalidActionError(f"action must be numeric, got {type(action).__name__}") from err
        if arr.shape != (7,):
            raise InvalidActionError(
                f"action must have shape (7,) (dx, dy, dz, droll, dpitch, dyaw, gripper), got {arr.shape}"
            )
        if not np.all(np.isfinite(arr)):
            raise InvalidActionError(f"action has NaN or inf: {arr.tolist()}")
        return np.clip(arr, -1.0, 1.0)

    def step(self, action: Any) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        act = self._check_action(action)
        if self._done:
            raise RuntimeError("episode is over (or never started): call reset() before step()")
        rs = self._libero.env
        activate_renderer(rs, reflections=self.config.reflections)
        data = self.sim.data._data
        unstable_before = instability_count(data)
        self._ledger.begin_step()
        error = None
        try:
            raw, _, _, _ = rs.step(act)
        except Exception as err:  # a simulator failure must not take the run down
            raw, error = self._last_raw, f"{type(err).__name__}: {err}"
        collisions = self._ledger.end_step()
        self._steps += 1
        data = self.sim.data._data
        error = error or physics_failure(data, unstable_before)
        touching_roots = gripper_contacts(data, self._gripper_mask, self._geom_root)
        if self._obstacles.active:
            collisions["obstacle"] = self._obstacles.update(self._steps - 1, collisions, touching_roots)

        success = error is None and bool(rs._check_success())
        touching = {n for n in self.target_objects if self._bodies.get(n) in touching_roots}
        dropped = self._drops.update(self._target_heights(), touching) if error is None else []

        reason = None
        if error is not None:
            reason = "physics_error"
            self._needs_hard_reset = True
        elif success:
            reason = "success"
        elif self.config.terminate_on_collision and collisions["n_onsets"] > 0:
            reason = "collision"
        elif self.config.terminate_on_drop and dropped:
            reason = "object_dropped"
        terminated = reason is not None
        truncated = not terminated and self._steps >= self.max_steps
        if truncated:
            reason = "timeout"
        self._done = terminated or truncated
        self._last_raw = raw

        info: dict[str, Any] = {
            "is_success": success,
            "step": self._steps,
            "termination_reason": reason,
            "collisions": collisions,
            "dropped": dropped,
        }
        if error is not None:
            info["error"] = error
        if self._done:
            info["episode_collisions"] = self.episode_collision_summary()
        return self._observation(raw), float(success), terminated, truncated, info

    def episode_collision_summary(self) -> dict[str, Any]:
        """The collision ledger's summary of the current episode so far."""
        summary = self._ledger.episode_summary()
        return {**summary, "obstacle": self._obstacles.summary()} if self._obstacles.active else summary

    # ------------------------------------------------------------- rendering
    def render(self) -> np.ndarray | None:
        """The first policy camera's latest frame (right way up), in ``rgb_array`` mode."""
        if self.render_mode != "rgb_array" or self._last_raw is None or not self._cameras:
            return None
        return np.ascontiguousarray(self._last_raw[f"{self._cameras[0]}_image"][::-1])

    def close(self) -> None:
        if getattr(self, "_libero", None) is not None:
            self._ledger.detach()
            self._libero.close()
            self._libero = None
