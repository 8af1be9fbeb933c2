"""How a LIBERO task is simulated: the env's one config object (the YAML ``env:`` section builds it).

>>> LiberoEnvConfig(cameras=(), max_steps=50).to_dict()["max_steps"]
50
>>> LiberoEnvConfig(protocol="nope")
Traceback (most recent call last):
...
ValueError: protocol must be one of ['lerobot', 'openvla'], got 'nope'
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from mistvla.harness.envs.collisions.config import CollisionConfig
from mistvla.harness.envs.observations import CAMERAS
from mistvla.harness.envs.tasks import DEFAULT_PROTOCOL, STEP_LIMIT_PROTOCOLS
from mistvla.harness.envs.termination import DropConfig

RESET_PROTOCOLS = ("published", "settled")


@dataclass(frozen=True)
class LiberoEnvConfig:
    """Everything that decides how a LIBERO task is simulated (recorded with results)."""

    cameras: tuple[str, ...] = CAMERAS
    image_size: int = 128
    reflections: bool = True
    """MuJoCo's reflection pass for the cameras (LIBERO's look). ``false`` draws the scene once, ~2x faster
    with Mesa software rendering, and changes the images: train and evaluate an image policy the same way
    (:mod:`~mistvla.harness.envs.rendering`)."""
    privileged: bool = False
    protocol: str = DEFAULT_PROTOCOL
    max_steps: int | None = None
    """Policy steps per episode; None takes the protocol's limit for the suite."""
    warmup_steps: int = 10
    reset_protocol: str = "published"
    """``published``: the arm's controller keeps the goal of the hard reset's initial pose, as in raw
    LIBERO and the published OpenVLA/LeRobot evaluations (the no-op warm-up pulls the arm ~1.5 cm toward
    it). ``settled``: the goal is set at the restored init state, so the warm-up holds the saved pose."""
    hard_reset: bool = False
    """Rebuild the MuJoCo model at every reset (LIBERO's default, ~5 s) instead of
    resetting it in place (~0.15 s). Both give identical trajectories for the same
    (seed, init state); a test holds them to that."""
    control_freq: int = 20
    terminate_on_collision: bool = False
    terminate_on_drop: bool = False
    collision: CollisionConfig = field(default_factory=CollisionConfig)
    drop: DropConfig = field(default_factory=DropConfig)

    def __post_init__(self) -> None:
        unknown = [c for c in self.cameras if c not in CAMERAS]
        if unknown:
            raise ValueError(f"unknown camera(s) {unknown}; LIBERO has {list(CAMERAS)}")
        if len(set(self.cameras)) != len(self.cameras):
            raise ValueError(f"duplicate cameras in {self.cameras}")
        if not 8 <= self.image_size <= 1024:
            raise ValueError(f"image_size must be in [8, 1024], got {self.image_size}")
        if self.max_steps is not None and self.max_steps < 1:
            raise ValueError(f"max_steps must be >= 1, got {self.max_steps}")
        if self.warmup_steps < 0:
            raise ValueError(f"warmup_steps must be >= 0, got {self.warmup_steps}")
        if self.reset_protocol not in RESET_PROTOCOLS:
            raise ValueError(
                f"reset_protocol must be one of {list(RESET_PROTOCOLS)}, got {self.reset_protocol!r}"
            )
        if self.protocol not in STEP_LIMIT_PROTOCOLS:
            raise ValueError(f"protocol must be one of {sorted(STEP_LIMIT_PROTOCOLS)}, got {self.protocol!r}")

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["cameras"] = list(self.cameras)
        return out
