"""The policy contract every mistvla policy implements (LeRobot's ``PreTrainedPolicy`` is the model).

A policy is bound to the env's task (``bind``, a no-op unless it reads the
task, as the scripted expert does), reset with the task's instruction and the
episode's seed, then asked for one action per step. It declares what it
consumes (:class:`PolicyRequirements`) so that the env renders only that;
rendering is the dominant cost of a LIBERO step. Neural policies derive from
:class:`HookedPolicy`, which owns the hook model and the capture/steering
session of every forward pass.

>>> class Still(Policy):
...     def select_action(self, obs):
...         return np.zeros(7, dtype=np.float32)
>>> p = Still()
>>> p.reset("pick up the bowl", seed=0)
>>> p.select_action({}).shape
(7,)
>>> p.select_actions([{}, {}]).shape
(2, 7)
>>> p.requirements.cameras
()
>>> Policy()  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
TypeError: Can't instantiate abstract class Policy with...select_action...
"""

from __future__ import annotations

import abc
import contextlib
import copy
import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from mistvla.harness.typed import NoParams
from mistvla.hooks.capture import Capture, CaptureRecord, CaptureSpec
from mistvla.hooks.steering import SteeringSession, SteeringSpec

ACTION_DIM = 7
"""Delta end-effector pose (x, y, z, roll, pitch, yaw) plus gripper, each in [-1, 1]."""


@dataclass(frozen=True)
class PolicyRequirements:
    """What a policy reads from the observation; the env renders nothing else."""

    cameras: tuple[str, ...] = ()
    """Camera names, e.g. ``("agentview", "robot0_eye_in_hand")``."""
    image_size: int = 128
    """Square render resolution in pixels for every camera above."""
    privileged: bool = False
    """Needs ground-truth object poses (scripted policies, oracles)."""


class Policy(abc.ABC):
    """Base class: ``bind(env)``, ``reset(instruction, seed=...)``, then ``select_action(obs)`` per step."""

    name: ClassVar[str] = "policy"
    Config: ClassVar[type] = NoParams
    """What a run config's ``policy.params`` may set: a dataclass, parsed strictly with each field's path
    (:func:`~mistvla.policies.params.policy_config`), its ``__post_init__`` checking values. Its fields
    are keyword parameters of the constructor with the same defaults (a test holds every registered
    policy to that); parameters only Python callers pass (a steering spec) stay out of it."""
    requirements: PolicyRequirements = PolicyRequirements()
    batched_inference: ClassVar[bool] = False
    """True where :meth:`select_actions_for` runs one batch through the model (else it loops)."""

    def __init__(self) -> None:
        self.instruction: str | None = None

    @classmethod
    def planned_requirements(cls, params: Mapping[str, Any]) -> PolicyRequirements:
        """What a policy built from ``params`` will read, without building it (``mistvla plan``).

        The class's :attr:`requirements` unless a kind reads them from its checkpoint (SmolVLA)."""
        return cls.requirements

    @classmethod
    def from_config(cls, config: Any) -> Policy:
        """The policy built from its parsed :attr:`Config`: the one way the registry builds every kind."""
        return cls(**{f.name: getattr(config, f.name) for f in dataclasses.fields(config)})

    def bind(self, env: Any) -> None:  # noqa: B027  (a no-op by design)
        """Read what the policy needs of ``env``'s task before episodes (no-op unless overridden)."""

    def reset(self, instruction: str, *, seed: int | None = None) -> None:
        """Start a new episode for the task described by ``instruction``.

        ``seed`` reseeds every random choice the policy makes in this episode, so
        that an episode's outcome does not depend on which episodes ran before
        it (or in which worker process). Deterministic policies ignore it.
        """
        self.instruction = instruction

    @abc.abstractmethod
    def select_action(self, obs: dict[str, Any]) -> np.ndarray:
        """Return a float32 array of shape (7,) in the env's action convention."""

    def select_actions(self, observations: Sequence[dict[str, Any]]) -> np.ndarray:
        """Actions for several observations, (N, 7); policies with batched inference override this."""
        return np.stack([np.asarray(self.select_action(o), dtype=np.float32) for o in observations])

    def fork(self) -> Policy:
        """A policy for another concurrent episode: its own episode state (a deep copy sharing bound envs)."""
        import gymnasium as gym

        shared = {id(v): v for v in vars(self).values() if isinstance(v, gym.Env)}
        return copy.deepcopy(self, shared)

    @classmethod
    def select_actions_for(
        cls, policies: Sequence[Policy], observations: Sequence[dict[str, Any]]
    ) -> np.ndarray:
        """One action per (episode's policy, observation), (N, 7): the lock-step runner's call.

        ``policies`` are forks of one policy (each reset for its own episode);
        classes with ``batched_inference`` run them as one batch, this default loops.
        """
        return np.stack(
            [
                np.asarray(p.select_action(o), dtype=np.float32)
                for p, o in zip(policies, observations, strict=True)
            ]
        )


class HookedPolicy(Policy):
    """A neural policy with named hook points: capture and steering around each forward pass.

    Subclasses implement :meth:`hook_model` and run their forward pass inside
    :meth:`hook_session`; set ``arch`` when the hook table cannot be detected.
    Steering is entered before capture, so a capture at a steered point
    records the steered state.
    """

    arch: ClassVar[str | None] = None
    """Hook table name (see :mod:`mistvla.hooks.points`); None: detected from the model."""

    @classmethod
    def block_count(cls, params: dict[str, Any]) -> int | None:
        """The number of transformer blocks the policy built from ``params`` has, when known without
        loading it (pre-run checks refuse hook points beyond it); None: unknown."""
        return None

    def __init__(self) -> None:
        super().__init__()
        self._capture: Capture | None = None
        self._steering: SteeringSession | None = None
        self.last_capture: CaptureRecord | None = None
        """Hidden states of the last forward pass (batch axis dropped), or None."""

    @abc.abstractmethod
    def hook_model(self) -> Any:
        """The ``torch.nn.Module`` that hook names resolve against."""

    def set_capture(self, spec: CaptureSpec | None) -> None:
        """Record ``spec``'s points/positions on every following forward pass (None: stop)."""
        self._capture = None if spec is None else Capture(self.hook_model(), spec, arch=self.arch)

    def set_steering(self, spec: SteeringSpec | None) -> None:
        """Steer every following forward pass with ``spec`` (None: stop)."""
        self._steering = None if spec is None else SteeringSession(self.hook_model(), spec, arch=self.arch)

    def reset(self, instruction: str, *, seed: int | None = None) -> None:
        super().reset(instruction, seed=seed)
        self.last_capture = None

    def fork(self) -> HookedPolicy:
        """Shares the model and its hook sessions (weights are never copied); episode state is its own."""
        other = copy.copy(self)
        other.last_capture = None
        return other

    @contextlib.contextmanager
    def _armed(self) -> Iterator[list[CaptureRecord]]:
        """Steering then capture for one forward pass; the capture's record is appended to the yielded list."""
        records: list[CaptureRecord] = []
        with contextlib.ExitStack() as hooks:
            if self._steering is not None:
                hooks.enter_context(self._steering)
            if self._capture is not None:
                hooks.enter_context(self._capture)
            yield records
            if self._capture is not None:
                records.append(self._capture.pop())

    @contextlib.contextmanager
    def hook_session(self) -> Iterator[None]:
        """Arm steering and capture for one forward pass; afterwards ``last_capture`` holds its record."""
        with self._armed() as records:
            yield
        if records:
            self.last_capture = records[0].squeeze_batch()

    @contextlib.contextmanager
    def batch_hook_session(self, policies: Sequence[HookedPolicy]) -> Iterator[None]:
        """:meth:`hook_session` for one batch over ``policies`` (row i): each gets its own ``last_capture``."""
        with self._armed() as records:
            yield
        if records:
            for i, policy in enumerate(policies):
                policy.last_capture = records[0].row(i)
