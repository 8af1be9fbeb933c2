"""The policy interface every mistvla policy implements.

A policy is reset with the task's language instruction, then asked for one
action per environment step. It declares what it consumes (cameras,
resolution, proprioception, privileged state) so that the environment renders
only that; rendering is the dominant cost of a LIBERO step.

>>> class Still(Policy):
...     def select_action(self, obs):
...         return np.zeros(7, dtype=np.float32)
>>> p = Still()
>>> p.reset("pick up the bowl")
>>> p.select_action({}).shape
(7,)
>>> p.requirements.cameras
()
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

ACTION_DIM = 7
"""Delta end-effector pose (x, y, z, roll, pitch, yaw) plus gripper, each in [-1, 1]."""


@dataclass(frozen=True)
class PolicyRequirements:
    """What a policy reads from the observation; the env renders nothing else."""

    cameras: tuple[str, ...] = ()
    """Camera names, e.g. ``("agentview", "robot0_eye_in_hand")``."""
    image_size: int = 128
    """Square render resolution in pixels for every camera above."""
    proprio: bool = True
    privileged: bool = False
    """Needs ground-truth object poses (scripted policies, oracles)."""
    extra: dict[str, Any] = field(default_factory=dict)


class Policy:
    """Base class: ``reset(instruction)`` then ``select_action(obs)`` once per step."""

    name: str = "policy"
    requirements: PolicyRequirements = PolicyRequirements()
    has_hooks: bool = False
    """True when the policy exposes named hook points (a neural policy)."""

    def __init__(self) -> None:
        self.instruction: str | None = None

    def reset(self, instruction: str, seed: int | None = None) -> None:
        """Start a new episode for the task described by ``instruction``.

        ``seed`` reseeds every random choice the policy makes in this episode, so
        that an episode's outcome does not depend on which episodes ran before
        it (or in which worker process).
        """
        self.instruction = instruction

    def select_action(self, obs: dict[str, Any]) -> np.ndarray:
        """Return a float32 array of shape (7,) in the env's action convention."""
        raise NotImplementedError

    def hook_model(self) -> Any:
        """The ``torch.nn.Module`` that hook names resolve against (neural policies only)."""
        raise TypeError(f"policy {self.name!r} exposes no hook points")
