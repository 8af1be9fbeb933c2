"""Seeded perturbations that make the scripted expert fail or collide in realistic ways.

A :class:`PerturbationConfig` says how strong each perturbation is; for each
episode :meth:`PerturbationConfig.sample` draws a concrete
:class:`EpisodePerturbation` from ``numpy.random.default_rng([seed, episode])``,
so the same (seed, episode) always gives the same perturbed behaviour.

- ``action_noise``: Gaussian noise (std, in action units) on the 6 arm dims every step.
- ``grasp_offset``: the grasp point is shifted horizontally by this many metres
  in a random direction (misses, weak or tilted grasps).
- ``overshoot``: the descent to the grasp goes this many metres too deep
  (drives the fingers into the table or the object below); with
  ``overshoot_prob`` < 1 only some episodes overshoot.
- ``wrong_object_prob``: probability that the expert goes for a distractor
  (another movable object, preferring ones of the same kind) instead of the goal object.
- ``speed_scale``: multiplies the arm's speed (>1 jerky, hits things; <1 slow, times out).
- ``quiet_phases``: expert phases in which ``action_noise`` is not added. DART demonstrations use
  ``("descend", "grasp")``: the expert closes when its descent stalls (< 2 mm in 6 steps), which noise
  of std 0.1 hides (the hand jiggles ~9 mm per 6 steps), so under noise the close came from a phase
  timer a learner cannot see (docs/reference_policy.md, libero_object bottles).

>>> cfg = PerturbationConfig(action_noise=0.1, grasp_offset=0.02, seed=3)
>>> a, b = cfg.sample(episode=5), cfg.sample(episode=5)
>>> a == b and a.grasp_offset_xy == b.grasp_offset_xy
True
>>> round(float(np.hypot(*a.grasp_offset_xy)), 6)
0.02
>>> PerturbationConfig().is_null
True
>>> PerturbationConfig(speed_scale=0)
Traceback (most recent call last):
...
ValueError: speed_scale must be > 0, got 0
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

PHASES = ("approach", "descend", "grasp", "lift", "transport", "place", "release", "retreat", "done")
"""The scripted expert's phases, in the order it runs them (``quiet_phases`` names some of them)."""


@dataclass(frozen=True)
class PerturbationConfig:
    """Strength of each perturbation; all zero (and ``speed_scale`` 1) is the clean expert."""

    action_noise: float = 0.0
    grasp_offset: float = 0.0
    overshoot: float = 0.0
    overshoot_prob: float = 1.0
    wrong_object_prob: float = 0.0
    speed_scale: float = 1.0
    seed: int = 0
    quiet_phases: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("action_noise", "grasp_offset", "overshoot"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        for name in ("overshoot_prob", "wrong_object_prob"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if not self.speed_scale > 0:
            raise ValueError(f"speed_scale must be > 0, got {self.speed_scale}")
        unknown = sorted(set(self.quiet_phases) - set(PHASES))
        if unknown:
            raise ValueError(f"quiet_phases: unknown phase(s) {unknown}; phases are {list(PHASES)}")

    @property
    def is_null(self) -> bool:
        """True when nothing is perturbed."""
        return (
            self.action_noise == 0
            and self.grasp_offset == 0
            and (self.overshoot == 0 or self.overshoot_prob == 0)
            and self.wrong_object_prob == 0
            and self.speed_scale == 1
        )

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["quiet_phases"] = list(self.quiet_phases)
        return out

    def sample(self, episode: int) -> EpisodePerturbation:
        """The concrete perturbation of episode ``episode`` (deterministic in (seed, episode))."""
        rng = np.random.default_rng([int(self.seed), int(episode)])
        angle = rng.uniform(0, 2 * np.pi)
        offset = (float(self.grasp_offset * np.cos(angle)), float(self.grasp_offset * np.sin(angle)))
        overshoot = float(self.overshoot) if rng.uniform() < self.overshoot_prob else 0.0
        wrong = bool(rng.uniform() < self.wrong_object_prob)
        distractor_draw = float(rng.uniform())
        noise_seed = int(rng.integers(2**31 - 1))
        return EpisodePerturbation(
            episode=int(episode),
            grasp_offset_xy=offset,
            overshoot=overshoot,
            wrong_object=wrong,
            distractor_draw=distractor_draw,
            action_noise=float(self.action_noise),
            speed_scale=float(self.speed_scale),
            noise_seed=noise_seed,
        )


@dataclass(frozen=True)
class EpisodePerturbation:
    """What is perturbed in one episode (recordable with its results)."""

    episode: int
    grasp_offset_xy: tuple[float, float]
    overshoot: float
    wrong_object: bool
    distractor_draw: float
    """Uniform draw in [0, 1) that picks the distractor when ``wrong_object``."""
    action_noise: float
    speed_scale: float
    noise_seed: int

    def noise_rng(self) -> np.random.Generator:
        """A fresh generator for this episode's per-step action noise."""
        return np.random.default_rng(self.noise_seed)

    def pick_distractor(self, goal_obj: str, candidates: list[str]) -> str:
        """The distractor to grasp instead of ``goal_obj``: same kind first (``bowl_1`` -> ``bowl_2``).

        >>> p = PerturbationConfig(wrong_object_prob=1.0).sample(0)
        >>> p.pick_distractor("akita_black_bowl_1", ["plate_1", "akita_black_bowl_2", "cookies_1"])
        'akita_black_bowl_2'
        >>> p.pick_distractor("bowl_1", [])
        'bowl_1'
        """
        others = [c for c in candidates if c != goal_obj]
        if not others:
            return goal_obj
        kind = goal_obj.rsplit("_", 1)[0]
        same = [c for c in others if c.rsplit("_", 1)[0] == kind]
        pool = sorted(same or others)
        return pool[int(self.distractor_draw * len(pool)) % len(pool)]

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["grasp_offset_xy"] = list(self.grasp_offset_xy)
        return out
