"""The clearance oracle: risk from the robot's distance to what it must not hit.

:class:`ClearanceOracle` reads simulator state: the clearance between the
robot (arm and gripper collision geoms) and everything it must not hit (table,
fixtures, non-target objects, inserted obstacles, floor and walls). Risk rises linearly from 0 at
``clearance >= margin`` to 1 at contact. The per-dimension risk puts that
score on the translation axes in proportion to the direction of the nearest
obstacle (rotation and gripper dimensions get 0).

Two options make it a hazard-specific gate (issue 24: the all-geometry oracle,
calibrated on clean grasps that come within ~7 mm of the table, fires a few
steps before an obstacle contact or not at all): ``hazards: obstacles`` measures
the clearance to inserted obstacles only (risk 0 in a scene without any), and
``held_object: true`` counts the object the gripper touches (a target or other
movable object in contact with a gripper geom) as part of the robot, so a
contact made by the carried bowl is seen coming too.

The learned risk predictor (from hidden states) implements the same
interface (:mod:`mistvla.harness.risk.base`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import mujoco
import numpy as np

from mistvla.harness.envs.collisions.body_classes import BodyClass, classify_env
from mistvla.harness.risk.base import RiskSignal, RiskSource

OBSTACLE_CLASSES = (BodyClass.TABLE, BodyClass.FIXTURE, BodyClass.OBJECT, BodyClass.WORLD, BodyClass.OBSTACLE)
HAZARDS = {"all": OBSTACLE_CLASSES, "obstacles": (BodyClass.OBSTACLE,)}
HELD_CLASSES = (BodyClass.TARGET, BodyClass.OBJECT)


@dataclass
class OracleConfig:
    margin: float = 0.05
    """Clearance in metres at which risk starts to rise from 0 (it is 1 at contact)."""
    hazards: str = "all"
    """``all``: table, fixtures, non-target objects, floor/walls and inserted obstacles; ``obstacles``:
    inserted obstacles only."""
    held_object: bool = False
    """Count the object the gripper touches as part of the robot."""

    def __post_init__(self) -> None:
        if self.margin <= 0:
            raise ValueError(f"margin must be > 0 metres, got {self.margin}")
        if self.hazards not in HAZARDS:
            raise ValueError(f"hazards must be one of {', '.join(HAZARDS)}, got {self.hazards!r}")
        if self.held_object and self.hazards != "obstacles":
            raise ValueError(
                "held_object needs hazards: obstacles (a held object touches the table it rests on)"
            )


def toward(dist: float, fromto: np.ndarray) -> np.ndarray:
    """Unit vector from the robot geom toward the hazard geom from ``mj_geomDistance``'s segment (robot
    point, hazard point); when they interpenetrate (``dist < 0``) the segment points the other way.

    >>> toward(0.8, np.array([0, 0, 0.9, 0, 0, 0.1])).tolist()     # the hazard 0.8 m below
    [0.0, 0.0, -1.0]
    >>> (toward(-0.05, np.array([0, 0, 0.05, 0, 0, 0.1])) + 0.0).tolist()  # 5 cm into it, still below
    [0.0, 0.0, -1.0]
    """
    vec = np.asarray(fromto[3:], dtype=np.float64) - np.asarray(fromto[:3], dtype=np.float64)
    if dist < 0:
        vec = -vec
    norm = float(np.linalg.norm(vec))
    return vec / norm if norm > 1e-9 else np.array([0.0, 0.0, -1.0])


class ClearanceOracle(RiskSource):
    """Risk from the robot's clearance to non-target geometry (privileged simulator state)."""

    Config = OracleConfig
    per_dim = True
    direction = True
    needs_privileged = True

    def __init__(self, config: OracleConfig | None = None) -> None:
        super().__init__(config)
        self.margin = float(self.config.margin)
        self._fromto = np.zeros(6)

    def reset(self, env: Any) -> None:
        """Bind to a :class:`~mistvla.harness.envs.libero.LiberoEnv` after its reset."""
        rs = env.unwrapped_libero.env
        self._model = rs.sim.model._model
        self._data = rs.sim.data._data
        classes = classify_env(rs)
        collidable = (self._model.geom_contype != 0) | (self._model.geom_conaffinity != 0)
        robot = np.isin(classes.geom_class, [int(BodyClass.ARM), int(BodyClass.GRIPPER)])
        obstacle = np.isin(classes.geom_class, [int(c) for c in HAZARDS[self.config.hazards]])
        self._arm = np.flatnonzero(robot & collidable)
        self._robot = self._arm
        self._gripper = np.flatnonzero(classes.geom_class == int(BodyClass.GRIPPER))
        held = np.isin(classes.geom_class, [int(c) for c in HELD_CLASSES]) & collidable
        roots = self._model.body_rootid[self._model.geom_bodyid]
        self._held_geoms = {int(r): np.flatnonzero(held & (roots == r)) for r in np.unique(roots[held])}
        self._obstacle = np.flatnonzero(obstacle & collidable)
        planes = self._model.geom_type[self._obstacle] == mujoco.mjtGeom.mjGEOM_PLANE
        self._planes = self._obstacle[planes]
        self._solids = self._obstacle[~planes]

    def _held(self) -> np.ndarray:
        """Collidable geoms of the movable objects a gripper geom touches now."""
        m, d = self._model, self._data
        n = d.ncon
        if n == 0 or not self._held_geoms:
            return np.zeros(0, dtype=np.int64)
        g1, g2 = d.contact.geom1[:n], d.contact.geom2[:n]
        other = np.concatenate([g2[np.isin(g1, self._gripper)], g1[np.isin(g2, self._gripper)]])
        roots = {int(r) for r in m.body_rootid[m.geom_bodyid[other]]} & set(self._held_geoms)
        parts = [self._held_geoms[r] for r in sorted(roots)]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    def clearance(self) -> tuple[float, np.ndarray]:
        """Smallest robot-obstacle distance (capped at ``margin``) and its unit direction."""
        m, d = self._model, self._data
        if self.config.held_object:
            self._robot = np.concatenate([self._arm, self._held()])
        best, direction = self.margin, np.zeros(3)
        r_pos = d.geom_xpos[self._robot]
        r_rad = m.geom_rbound[self._robot]
        o_pos = d.geom_xpos[self._solids]
        o_rad = m.geom_rbound[self._solids]
        # Bounding spheres prune pairs that cannot come within the margin.
        gap = np.linalg.norm(r_pos[:, None, :] - o_pos[None, :, :], axis=-1) - r_rad[:, None] - o_rad[None, :]
        ri, oi = np.nonzero(gap < self.margin)
        pairs = [(self._robot[i], self._solids[j]) for i, j in zip(ri, oi, strict=True)]
        pairs += [(r, p) for r in self._robot for p in self._planes]
        for g1, g2 in pairs:
            dist = mujoco.mj_geomDistance(m, d, int(g1), int(g2), self.margin, self._fromto)
            if dist < best:
                best = dist
                direction = toward(dist, self._fromto)
        return float(best), direction

    def risk(self, obs: dict[str, Any]) -> RiskSignal:
        dist, direction = self.clearance()
        score = float(np.clip(1.0 - dist / self.margin, 0.0, 1.0))
        per_dim = np.zeros(7, dtype=np.float32)
        per_dim[:3] = score * np.abs(direction)
        toward = direction.astype(np.float32) if score > 0 else None
        return RiskSignal(score, per_dim, toward)
