"""Simulator predicates that end an episode, besides success and the step limit.

- :class:`DropDetector`: a lifted target object falls. An object counts as
  *lifted* when it was held by the gripper at least ``lift_height`` above where
  it rested at the episode start; it *drops* when, with no gripper contact, it
  has fallen more than ``fall_distance`` below the height at which the gripper
  last touched it. A deliberate placement releases close to the surface and
  falls less than that; a slip during transport falls more.
- :func:`physics_failure`: NaN/inf in the state, or MuJoCo's bad qpos/qvel/qacc
  warnings (MuJoCo then silently resets the data, which would otherwise look
  like a teleport).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import mujoco
import numpy as np

TERMINATION_REASONS: tuple[str, ...] = (
    "success",
    "timeout",
    "collision",
    "object_dropped",
    "physics_error",
)


@dataclass
class DropConfig:
    lift_height: float = 0.05
    """Metres above the rest height at which a held object counts as lifted."""
    fall_distance: float = 0.08
    """Metres below the last gripper-contact height that count as a drop."""


@dataclass
class DropDetector:
    """Tracks target objects; :meth:`update` returns the names that dropped this step.

    >>> d = DropDetector(DropConfig())
    >>> d.reset({"bowl": 0.90})
    >>> d.update({"bowl": 0.97}, touching={"bowl"})    # lifted in the gripper
    []
    >>> d.update({"bowl": 0.95}, touching=set())       # released, fell 2 cm
    []
    >>> d.update({"bowl": 0.88}, touching=set())       # fell 9 cm: dropped
    ['bowl']
    >>> d.update({"bowl": 0.88}, touching=set())       # reported once
    []
    """

    config: DropConfig
    _rest: dict[str, float] = field(default_factory=dict)
    _release: dict[str, float] = field(default_factory=dict)
    _lifted: set[str] = field(default_factory=set)
    _dropped: set[str] = field(default_factory=set)

    def reset(self, heights: dict[str, float]) -> None:
        self._rest = dict(heights)
        self._release = {}
        self._lifted = set()
        self._dropped = set()

    def update(self, heights: dict[str, float], touching: set[str]) -> list[str]:
        dropped = []
        for name, z in heights.items():
            if name in touching:
                self._release[name] = z
                if z - self._rest.get(name, z) >= self.config.lift_height:
                    self._lifted.add(name)
                self._dropped.discard(name)
                continue
            if name in self._lifted and name not in self._dropped:
                if self._release.get(name, z) - z > self.config.fall_distance:
                    self._dropped.add(name)
                    self._lifted.discard(name)
                    dropped.append(name)
        return dropped


def gripper_contacts(data: mujoco.MjData, gripper_geom: np.ndarray, geom_root: np.ndarray) -> set[int]:
    """Root body ids of everything the gripper touches now (end of step).

    ``gripper_geom`` is a boolean mask over geoms; ``geom_root`` maps geom id to
    its root body id.
    """
    n = data.ncon
    if n == 0:
        return set()
    g1 = data.contact.geom1[:n]
    g2 = data.contact.geom2[:n]
    m1 = gripper_geom[g1]
    m2 = gripper_geom[g2]
    other = np.concatenate([g2[m1 & ~m2], g1[m2 & ~m1]])
    return set(int(r) for r in np.unique(geom_root[other]))


INSTABILITY_WARNINGS = (
    mujoco.mjtWarning.mjWARN_BADQPOS,
    mujoco.mjtWarning.mjWARN_BADQVEL,
    mujoco.mjtWarning.mjWARN_BADQACC,
)


def instability_count(data: mujoco.MjData) -> int:
    """How many times MuJoCo has flagged NaN/inf/huge qpos, qvel or qacc in ``data``."""
    return sum(int(data.warning[w].number) for w in INSTABILITY_WARNINGS)


def physics_failure(data: mujoco.MjData, count_before: int) -> str | None:
    """A description of a physics failure in ``data``, or None if the state is sound.

    ``count_before`` is :func:`instability_count` before the step.
    """
    if not (np.all(np.isfinite(data.qpos)) and np.all(np.isfinite(data.qvel))):
        return "non-finite qpos/qvel"
    if instability_count(data) > count_before:
        return "MuJoCo flagged a NaN/inf/huge state (unstable simulation; MuJoCo reset the state)"
    return None
