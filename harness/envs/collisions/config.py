"""Which robot contacts the collision ledger counts as collisions, and how hard they must be.

>>> CollisionConfig(static_threshold_n=30.0).static_threshold_n
30.0
>>> CollisionConfig(static_threshold_n=0)
Traceback (most recent call last):
...
ValueError: force thresholds must be positive
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from mistvla.harness.envs.collisions.body_classes import CLASS_NAMES, ROBOT_CLASSES, BodyClass  # noqa: F401

KIND_NAMES: tuple[str, ...] = ("contact", "collision", "manipulation", "self")
"""Contact kinds by id. ``contact``: robot touched something not listed as a collision."""
_CONTACT, _COLLISION, _MANIPULATION, _SELF = range(4)

_ROBOT = ("arm", "gripper", "mount")
_DEFAULT_COLLISION_PAIRS: tuple[tuple[str, str], ...] = tuple(
    (r, o)
    for r in _ROBOT
    for o in ("table", "fixture", "world", "object", "target", "obstacle")
    if (r, o) != ("gripper", "target")
)


@dataclass(frozen=True)
class CollisionConfig:
    """Which robot contacts count as collisions, and how hard they must be.

    Thresholds were measured in libero_spatial with LIBERO's OSC_POSE
    controller (tables in docs/collision_ledger.md). Against static geoms, the
    gripper's peak force on reaching the table grows with speed (20 N at
    1.3 cm/s, 86 N at 5 cm/s, 390 N for a full-scale ``z=-1`` action) and
    resting leaves under 1 N: 50 N passes careful touches and flags impacts and
    hard presses. Movable objects weigh 6-12 g (sliding one takes ~0.1 N;
    sweeping into one peaks at 3-28 N): 0.5 N counts real pushes, not grazes.
    Every robot contact is reported with its force anyway, so records can be
    re-thresholded offline.
    """

    static_threshold_n: float = 50.0
    """Normal-force threshold (N) against non-movable geoms: table, fixtures, world, mount side."""
    movable_threshold_n: float = 0.5
    """Normal-force threshold (N) against free-moving objects (distractors and movable targets)."""
    release_ratio: float = 0.5
    """A colliding pair ends when its force drops below ``release_ratio * threshold`` (1.0: no hysteresis)."""
    rearm_substeps: int = 25
    """A pair that stopped colliding and collides again within this many substeps continues its
    previous collision instead of starting a new onset (25 substeps = one env step = 50 ms). A light
    object kicked by the gripper bounces off and back several times per step; without this each
    bounce would count as a separate collision. 0: every re-contact is an onset."""
    collision_pairs: tuple[tuple[str, str], ...] = _DEFAULT_COLLISION_PAIRS
    """(robot class, other class) pairs that are collisions. Default: arm and mount vs
    table/fixture/world/object/target/obstacle, gripper vs table/fixture/world/object/obstacle. The arm
    hitting a target (knocking the bowl with the forearm) is a collision; the gripper
    touching a target is manipulation."""
    manipulation_pairs: tuple[tuple[str, str], ...] = (("gripper", "target"),)
    """(robot class, other class) pairs reported as manipulation, never as collisions."""
    targets: tuple[str, ...] | None = None
    """Override the task's objects of interest (object/fixture names); None: ask the env."""

    def __post_init__(self) -> None:
        if self.static_threshold_n <= 0 or self.movable_threshold_n <= 0:
            raise ValueError("force thresholds must be positive")
        if not 0 < self.release_ratio <= 1:
            raise ValueError("release_ratio must be in (0, 1]")
        if self.rearm_substeps < 0:
            raise ValueError("rearm_substeps must be >= 0")
        for robot, other in (*self.collision_pairs, *self.manipulation_pairs):
            if robot not in _ROBOT or other not in CLASS_NAMES:
                raise ValueError(
                    f"bad pair ({robot!r}, {other!r}): robot side in {_ROBOT}, other in {CLASS_NAMES}"
                )

    def kind_table(self) -> np.ndarray:
        """int8 [robot class, other class] -> kind id (index into :data:`KIND_NAMES`).

        >>> t = CollisionConfig().kind_table()
        >>> KIND_NAMES[t[BodyClass.ARM, BodyClass.TABLE]], KIND_NAMES[t[BodyClass.GRIPPER, BodyClass.TARGET]]
        ('collision', 'manipulation')
        >>> KIND_NAMES[t[BodyClass.ARM, BodyClass.GRIPPER]], KIND_NAMES[t[BodyClass.ARM, BodyClass.TARGET]]
        ('self', 'collision')
        """
        n = len(CLASS_NAMES)
        table = np.full((n, n), _CONTACT, dtype=np.int8)
        for r in ROBOT_CLASSES:
            for o in ROBOT_CLASSES:
                table[r, o] = _SELF
        index = {name: i for i, name in enumerate(CLASS_NAMES)}
        for robot, other in self.manipulation_pairs:
            table[index[robot], index[other]] = _MANIPULATION
        for robot, other in self.collision_pairs:
            table[index[robot], index[other]] = _COLLISION
        return table

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable copy (pairs as lists)."""
        d = asdict(self)
        d["collision_pairs"] = [list(p) for p in self.collision_pairs]
        d["manipulation_pairs"] = [list(p) for p in self.manipulation_pairs]
        d["targets"] = None if self.targets is None else list(self.targets)
        return d
