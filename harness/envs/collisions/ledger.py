"""A per-substep ledger of the robot's contacts and collisions in a robosuite/LIBERO env.

One env step runs 25 MuJoCo substeps (control 20 Hz, timestep 2 ms) and
``data.contact`` only holds the last one, so a check at the end of the step
misses impacts that start and end inside it. :class:`CollisionLedger` wraps the
*instance's* ``sim.step`` so that it looks at the contacts after every substep::

    ledger = CollisionLedger()
    env.reset(); ledger.attach(env.env); ledger.reset()  # env: LIBERO OffScreenRenderEnv
    ledger.begin_step(); env.step(action); record = ledger.end_step()
    ledger.episode_summary()["collided"]

A *contact* is any MuJoCo contact involving a robot geom (arm, gripper,
mount); its force is the normal force from ``mj_contactForce``, summed over
the contact points of one body pair in one substep. What the robot touched
decides its *kind* (see :class:`CollisionConfig`): ``collision`` (e.g. arm vs
table), ``manipulation`` (gripper vs a task target), ``self`` (robot vs robot)
or ``contact`` (any other pair). A collision *onset* is a collision-kind pair
whose force reaches its threshold while it was not already colliding; it stays
colliding until its force falls below ``release_ratio`` times the threshold
(hysteresis, so a press hovering at the threshold is one event, not dozens).

Everything returned is plain ``int``/``float``/``str``/``list``/``dict`` so it
can go into Gymnasium ``info`` and JSON logs. After a hard reset robosuite
builds a new ``sim``: call :meth:`CollisionLedger.attach` again; stepping a
stale ledger raises instead of silently recording nothing.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import mujoco
import numpy as np

from mistvla.harness.envs.collisions.body_classes import CLASS_NAMES, BodyClass, GeomClasses, classify_env
from mistvla.harness.envs.collisions.config import (  # noqa: F401  (KIND_NAMES: part of the ledger's API)
    _COLLISION,
    _MANIPULATION,
    KIND_NAMES,
    CollisionConfig,
)


@dataclass
class _PairStats:
    """One (robot body, other body) pair within one env step."""

    max_force: float = -1.0  # below any real force, so the first substep sets position/normal
    max_penetration: float = -np.inf
    position: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])
    normal: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])
    n_substeps: int = 0
    n_substeps_above: int = 0
    last_substep: int = -1


@dataclass
class _Episode:
    n_steps: int = 0
    n_onsets: int = 0
    first_collision_step: int | None = None
    n_collision_steps: int = 0
    max_collision_force: float = 0.0
    bodies_hit: set[str] = field(default_factory=set)
    onsets_by_class: dict[str, int] = field(default_factory=dict)


class CollisionLedger:
    """Records robot contacts after every MuJoCo substep and reports them per env step.

    Usage per episode: ``attach(rs_env)`` after every env reset (a hard reset
    replaces ``rs_env.sim``), ``reset()``, then around each env step
    ``begin_step()`` / ``end_step()``; finally ``episode_summary()``.
    ``end_step`` reports everything recorded since ``begin_step`` (or, without
    ``begin_step``, since the previous ``end_step``).
    """

    def __init__(self, config: CollisionConfig | None = None) -> None:
        self.config = config or CollisionConfig()
        self._kind = self.config.kind_table()
        self._env: Any = None
        self._sim: Any = None
        self._wrapper: Any = None
        self._saved_instance_step: Any = None
        self._had_instance_step = False
        self.classes: GeomClasses | None = None
        self._force6 = np.zeros(6)
        self.n_unattributed_substeps = 0
        self.reset()

    # -- attaching -------------------------------------------------------------------------------
    @property
    def attached(self) -> bool:
        """True while this ledger's wrapper is installed on a sim."""
        return self._sim is not None

    def attach(self, env: Any) -> None:
        """Wrap ``env.sim.step`` (robosuite env, e.g. ``OffScreenRenderEnv(...).env``).

        Idempotent for the same sim; for a new sim (after a hard reset) it
        detaches from the old one and re-classifies the new model's geoms.
        """
        sim = env.sim
        if self._sim is sim and vars(sim).get("step") is self._wrapper:
            self._env = env
            return
        self.detach()
        classes = classify_env(env, self.config.targets)
        self.classes = classes
        self._model = sim.model._model
        self._data = sim.data._data
        self._is_robot = classes.is_robot_geom
        static, movable = self.config.static_threshold_n, self.config.movable_threshold_n
        # Plain lists: indexing them with Python ints is several times faster than numpy scalars.
        self._geom_body_list = classes.geom_body.tolist()
        self._body_class_list = classes.body_class.astype(int).tolist()
        self._threshold_list = np.where(self._body_movable(classes), movable, static).tolist()
        self._kind_list = self._kind.tolist()
        self._active, self._released = set(), {}
        self._plan_key, self._plan_rows = b"", []  # the last contact set's geom pairs, and its plan
        self._had_instance_step = "step" in vars(sim)
        self._saved_instance_step = vars(sim).get("step")
        inner = sim.step

        def step(*args: Any, **kwargs: Any) -> Any:
            out = inner(*args, **kwargs)
            if self._sim is sim:
                self._record_substep()
            return out

        sim.step = step
        self._sim, self._env, self._wrapper = sim, env, step

    @staticmethod
    def _body_movable(classes: GeomClasses) -> np.ndarray:
        movable = np.zeros(len(classes.body_names), dtype=bool)
        movable[classes.geom_body] = classes.geom_movable
        return movable

    def detach(self) -> None:
        """Remove the wrapper, restoring ``sim.step`` exactly as it was before :meth:`attach`.

        If something else wrapped ``sim.step`` after us, our wrapper is left in
        place but turned into a pass-through (with a warning).
        """
        sim = self._sim
        if sim is None:
            return
        if vars(sim).get("step") is self._wrapper:
            if self._had_instance_step:
                sim.step = self._saved_instance_step
            else:
                del sim.step
        else:
            warnings.warn("sim.step was re-wrapped after attach; leaving a pass-through", stacklevel=2)
        self._sim = self._wrapper = self._saved_instance_step = None
        self._had_instance_step = False

    # -- episode / step bookkeeping --------------------------------------------------------------
    def reset(self) -> None:
        """Start a new episode: clears per-episode totals, the step counter and collision state."""
        self._episode = _Episode()
        self._active: set[tuple[int, int]] = set()
        self._released: dict[tuple[int, int], int] = {}
        self._tick = 0  # substeps since reset()
        self._clear_step()

    def _clear_step(self) -> None:
        self._pairs: dict[tuple[int, int], _PairStats] = {}
        self._events: list[dict[str, Any]] = []
        self._substep = 0
        self._max_ncon = 0
        self._any_above = False
        self._above_last = False

    def begin_step(self) -> None:
        """Start an env step; substeps recorded since the last ``end_step`` are dropped."""
        self.n_unattributed_substeps += self._substep
        self._clear_step()

    def end_step(self) -> dict[str, Any]:
        """Close the env step and return its record (JSON-serialisable).

        Keys (docs/collision_ledger.md describes each): ``step``, ``n_substeps``,
        ``n_contacts_max``, ``contacts`` (per robot body pair, strongest first), ``events``
        (collision onsets), ``n_onsets``, ``collision`` (a collision pair at or above its
        threshold in any substep), ``collision_at_step_end`` (the same for the last substep
        only, as a per-step check would see it), ``max_collision_force_n``.
        """
        if self._sim is None:
            raise RuntimeError("CollisionLedger is not attached; call attach(env) first")
        if self._env is not None and self._env.sim is not self._sim:
            raise RuntimeError("the env's sim was replaced (hard reset); call attach(env) after every reset")
        ep = self._episode
        step = ep.n_steps
        contacts = [self._pair_record(key, stats) for key, stats in self._pairs.items()]
        contacts.sort(key=lambda c: -c["max_force_n"])
        max_coll = max((c["max_force_n"] for c in contacts if c["kind"] == "collision"), default=0.0)
        record = {
            "step": step,
            "n_substeps": self._substep,
            "n_contacts_max": self._max_ncon,
            "contacts": contacts,
            "events": self._events,
            "n_onsets": len(self._events),
            "collision": self._any_above,
            "collision_at_step_end": self._above_last,
            "max_collision_force_n": max_coll,
        }
        ep.n_steps += 1
        ep.max_collision_force = max(ep.max_collision_force, max_coll)
        if self._any_above:
            ep.n_collision_steps += 1
        for ev in self._events:
            ep.n_onsets += 1
            ep.bodies_hit.add(ev["other_owner"])
            ep.onsets_by_class[ev["other_class"]] = ep.onsets_by_class.get(ev["other_class"], 0) + 1
            if ep.first_collision_step is None:
                ep.first_collision_step = step
        self._clear_step()
        return record

    def episode_summary(self) -> dict[str, Any]:
        """Totals since :meth:`reset` (JSON-serialisable).

        ``collided`` is True when at least one collision onset happened.
        ``max_collision_force_n`` is the peak force of collision-kind pairs whether or
        not it reached the threshold, so near-misses stay visible.
        """
        ep = self._episode
        return {
            "n_steps": ep.n_steps,
            "collided": ep.n_onsets > 0,
            "n_onsets": ep.n_onsets,
            "first_collision_step": ep.first_collision_step,
            "n_collision_steps": ep.n_collision_steps,
            "max_collision_force_n": float(ep.max_collision_force),
            "bodies_hit": sorted(ep.bodies_hit),
            "onsets_by_class": dict(sorted(ep.onsets_by_class.items())),
        }

    # -- per substep -----------------------------------------------------------------------------
    def _plan(self, geom: np.ndarray) -> list[tuple[int, int, int, float]]:
        """``(contact row, robot body, other body, sign)`` of each robot contact of this contact set.

        A function of the contact rows' geom pairs only, so :meth:`_record_substep` reuses it while
        the set is unchanged (in most substeps: objects at rest keep their contacts).
        """
        robot_side = self._is_robot[geom]
        rows = np.flatnonzero(robot_side[:, 0] | robot_side[:, 1]).tolist()
        gbody, plan = self._geom_body_list, []
        for i, (g1, g2), (r1, r2) in zip(rows, geom[rows].tolist(), robot_side[rows].tolist(), strict=True):
            b1, b2, sign = gbody[g1], gbody[g2], 1.0
            if not r1 or (r2 and b2 < b1):
                b1, b2, sign = b2, b1, -1.0
            plan.append((i, b1, b2, sign))
        return plan

    def _record_substep(self) -> None:
        """Called after every ``sim.step``: aggregate the robot's contacts of this substep."""
        data = self._data
        substep = self._substep
        self._substep = substep + 1
        tick = self._tick = self._tick + 1
        ncon = data.ncon
        if ncon > self._max_ncon:
            self._max_ncon = ncon
        plan: list[tuple[int, int, int, float]] = []
        if ncon:
            con = data.contact
            geom = con.geom
            key = geom.tobytes()
            if key != self._plan_key:
                self._plan_key, self._plan_rows = key, self._plan(geom)
            plan = self._plan_rows
        if not plan:
            if self._active:
                self._set_active(set(), tick)
            self._above_last = False
            return
        model, force6, dist = self._model, self._force6, con.dist
        # (robot body, other body) -> [summed normal force, best row, its force, sign, max penetration]
        sub: dict[tuple[int, int], list[Any]] = {}
        for i, b1, b2, sign in plan:
            mujoco.mj_contactForce(model, data, i, force6)
            fn = float(force6[0])
            pen = -float(dist[i])
            agg = sub.get((b1, b2))
            if agg is None:
                sub[(b1, b2)] = [fn, i, fn, sign, pen]
            else:
                agg[0] += fn
                if fn > agg[2]:
                    agg[1], agg[2], agg[3] = i, fn, sign
                if pen > agg[4]:
                    agg[4] = pen

        active, new_active, above_now = self._active, set(), False
        release_ratio, rearm = self.config.release_ratio, self.config.rearm_substeps
        kinds, body_class, thresholds = self._kind_list, self._body_class_list, self._threshold_list
        pos, frame = con.pos, con.frame
        for key, (total, i, _, sign, pen) in sub.items():
            stats = self._pairs.get(key)
            if stats is None:
                stats = self._pairs[key] = _PairStats()
            stats.n_substeps += 1
            stats.last_substep = substep
            if pen > stats.max_penetration:
                stats.max_penetration = pen
            if total > stats.max_force:
                stats.max_force = total
                stats.position = pos[i].tolist()
                stats.normal = [sign * v for v in frame[i, :3].tolist()]
            if kinds[body_class[key[0]]][body_class[key[1]]] != _COLLISION:
                continue
            threshold = thresholds[key[1]]
            if total >= threshold:
                stats.n_substeps_above += 1
                above_now = True
            if key in active:
                if total >= release_ratio * threshold:
                    new_active.add(key)
            elif total >= threshold:
                new_active.add(key)
                if tick - self._released.get(key, -(1 << 30)) > rearm:
                    normal = [sign * v for v in frame[i, :3].tolist()]
                    position = pos[i].tolist()
                    self._events.append(self._event(key, substep, total, threshold, position, normal, pen))
        self._set_active(new_active, tick)
        self._any_above = self._any_above or above_now
        self._above_last = above_now

    def _set_active(self, new_active: set[tuple[int, int]], tick: int) -> None:
        for key in self._active - new_active:
            self._released[key] = tick
        self._active = new_active

    # -- records ---------------------------------------------------------------------------------
    def _describe(self, key: tuple[int, int]) -> dict[str, Any]:
        c = self.classes
        assert c is not None
        rb, ob = key
        return {
            "robot_body": c.body_names[rb],
            "other_body": c.body_names[ob],
            "robot_class": CLASS_NAMES[c.body_class[rb]],
            "other_class": CLASS_NAMES[c.body_class[ob]],
            "robot_owner": c.body_owner[rb],
            "other_owner": c.body_owner[ob],
        }

    def _event(
        self,
        key: tuple[int, int],
        substep: int,
        force: float,
        threshold: float,
        position: list[float],
        normal: list[float],
        penetration: float,
    ) -> dict[str, Any]:
        return {
            "step": self._episode.n_steps,
            "substep": substep,
            "time_s": float(self._data.time),
            **self._describe(key),
            "force_n": float(force),
            "threshold_n": float(threshold),
            "position": [float(v) for v in position],
            "normal": [float(v) for v in normal],
            "penetration_m": float(penetration),
        }

    def _pair_record(self, key: tuple[int, int], s: _PairStats) -> dict[str, Any]:
        kind = self._kind_list[self._body_class_list[key[0]]][self._body_class_list[key[1]]]
        return {
            **self._describe(key),
            "kind": KIND_NAMES[kind],
            "max_force_n": float(s.max_force),
            "threshold_n": float(self._threshold_list[key[1]]),
            "position": list(s.position),
            "normal": list(s.normal),
            "max_penetration_m": float(s.max_penetration),
            "n_substeps": s.n_substeps,
            "n_substeps_above": s.n_substeps_above,
            "in_last_substep": s.last_substep == self._substep - 1,
        }


__all__ = ["KIND_NAMES", "BodyClass", "CollisionConfig", "CollisionLedger"]
