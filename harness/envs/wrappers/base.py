"""The perturbation-wrapper contract and registry: one ``gymnasium.Wrapper`` per concern, a level and a seed.

A perturbation wraps a :class:`~mistvla.harness.envs.libero.LiberoEnv`. Its
``level`` is 0 (off: the wrapper passes everything through untouched, so the
episode is bit-identical to the unwrapped env) or 1..5 (increasing severity;
each concern's ``LEVELS`` table gives the parameters, documented in
``docs/perturbations.md``). At every reset it samples its parameters from a
generator seeded by (its ``seed``, the reset seed, the init state, the task)
and applies them; ``info["perturbation"]`` carries the name, level, seed and
the sampled parameters, so a perturbed episode can be reproduced exactly.

The sampled *direction* (sign, axis, colour...) depends on the seed only and
the level scales the magnitude, so for one episode a higher level is the same
perturbation, stronger.

Scene changes (model fields, joint positions) are made through the env's
``before_warmup`` reset option, after the init state is set and before the
warm-up, so the first observation already shows them. Model fields a wrapper
changes are saved first and put back by :meth:`PerturbationWrapper.restore`
(the runner calls it after each episode, because it reuses one env per task).

>>> PERTURBATIONS.names()[:4]
['actuation_noise', 'camera', 'controller_gains', 'distractor']
>>> perturbation_class("camera").LEVELS[3]
{'yaw_deg': 15.0, 'pitch_deg': 7.5, 'distance_scale': 1.15}
>>> perturbation_options("camera", {"pivot": [0, 0, 0.8]}, "sweep").pivot
(0.0, 0.0, 0.8)
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from mistvla.harness.registry import LazyRegistry
from mistvla.harness.typed import NoParams, from_dict

MAX_LEVEL = 5


class PerturbationWrapper(gym.Wrapper):
    """Base class: ``level`` 0 passes through; otherwise ``sample`` at reset, ``apply`` before the warm-up."""

    name: ClassVar[str] = ""
    Config: ClassVar[type] = NoParams
    LEVELS: ClassVar[dict[int, dict[str, Any]]] = {}
    """Parameters of each level 1..5 (level 0 is off)."""
    visual: ClassVar[bool] = False
    """True when the wrapper changes what the cameras see (rendering or the images themselves)."""

    def __init__(self, env: gym.Env, level: int = 0, seed: int = 0, config: Any = None) -> None:
        super().__init__(env)
        if not (isinstance(level, int) and 0 <= level <= MAX_LEVEL):
            raise ValueError(f"level must be an int in [0, {MAX_LEVEL}], got {level!r}")
        self.level = level
        self.seed = int(seed)
        self.options = config if config is not None else self.Config()
        self.params: dict[str, Any] = {}
        self._saved: list[tuple[Any, str, Any, np.ndarray]] = []

    # --------------------------------------------------------------- forwarding
    def __getattr__(self, name: str) -> Any:
        """Public attributes of the wrapped env (``instruction``, ``sim``, ``config``...), as the runner needs them."""
        if name.startswith("_") or name == "env":
            raise AttributeError(name)
        return getattr(self.env, name)

    @property
    def base(self) -> Any:
        """The innermost :class:`~mistvla.harness.envs.libero.LiberoEnv`."""
        return self.env.unwrapped

    # --------------------------------------------------------------- contract
    @property
    def active(self) -> bool:
        return self.level > 0

    def level_params(self) -> dict[str, Any]:
        """This level's row of :attr:`LEVELS`."""
        return dict(self.LEVELS[self.level])

    def rng(self, seed: int | None, init_state: int | None) -> np.random.Generator:
        """The generator of this reset's sampled parameters (independent of the level)."""
        task = int(self.base.task_info.index)
        words = [self.seed, int(seed or 0), int(init_state or 0), task, zlib.crc32(self.name.encode())]
        return np.random.default_rng(np.random.SeedSequence(words))

    def sample(self, rng: np.random.Generator, env: Any) -> dict[str, Any]:
        """This episode's parameters (JSON-able), drawn from ``rng``; ``env`` is the base env after the init state."""
        return {}

    def apply(self, env: Any) -> None:
        """Change the scene of the base env (after the init state, before the warm-up) using :attr:`params`."""

    def on_reset(self, obs: dict[str, Any], info: dict[str, Any]) -> dict[str, Any]:
        """Change the first observation (visual corruptions); default: unchanged."""
        return obs

    # ------------------------------------------------------------ gym methods
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        if not self.active:
            return self.env.reset(seed=seed, options=options)
        self.restore()
        options = dict(options or {})
        rng = self.rng(seed, options.get("init_state"))

        def hook(env: Any) -> None:
            self.params = self.sample(rng, env)
            self.apply(env)

        options["before_warmup"] = [*options.get("before_warmup", ()), hook]
        obs, info = self.env.reset(seed=seed, options=options)
        record = {"name": self.name, "level": self.level, "seed": self.seed, "params": self.params}
        info = {**info, "perturbation": record, "perturbations": [*info.get("perturbations", ()), record]}
        return self.on_reset(obs, info), info

    # ------------------------------------------------------ model field saving
    def set_field(self, obj: Any, field: str, index: Any, value: Any) -> None:
        """``getattr(obj, field)[index] = value``, saving the old value for :meth:`restore`."""
        arr = getattr(obj, field)
        self._saved.append((obj, field, index, np.array(arr[index], copy=True)))
        arr[index] = value

    def restore(self) -> None:
        """Put back every field :meth:`set_field` changed (latest change undone first)."""
        for obj, field, index, old in reversed(self._saved):
            getattr(obj, field)[index] = old
        self._saved.clear()
        inner = getattr(self.env, "restore", None)
        if callable(inner):
            inner()


PERTURBATIONS = LazyRegistry(
    "perturbation",
    {
        "camera": ("mistvla.harness.envs.wrappers.camera:CameraPerturbation", None),
        "lighting": ("mistvla.harness.envs.wrappers.lighting:LightingPerturbation", None),
        "textures": ("mistvla.harness.envs.wrappers.textures:TexturePerturbation", None),
        "sensor_noise": ("mistvla.harness.envs.wrappers.sensor_noise:SensorNoise", None),
        "robot_init": ("mistvla.harness.envs.wrappers.robot_init:RobotInitPerturbation", None),
        "object_layout": ("mistvla.harness.envs.wrappers.object_layout:ObjectLayoutPerturbation", None),
        "language": ("mistvla.harness.envs.wrappers.language:LanguagePerturbation", None),
        "latency": ("mistvla.harness.envs.wrappers.latency:ActionLatency", None),
        "actuation_noise": ("mistvla.harness.envs.wrappers.actuation_noise:ActuationNoise", None),
        "object_dynamics": ("mistvla.harness.envs.wrappers.object_dynamics:ObjectDynamics", None),
        "controller_gains": ("mistvla.harness.envs.wrappers.controller_gains:ControllerGains", None),
        "obstacle": ("mistvla.harness.envs.wrappers.obstacle:ObstaclePerturbation", None),
        "distractor": ("mistvla.harness.envs.wrappers.distractor:DistractorPerturbation", None),
        "object_move": ("mistvla.harness.envs.wrappers.disturbance:ObjectMove", None),
        "push": ("mistvla.harness.envs.wrappers.disturbance:Push", None),
        "grasp_slip": ("mistvla.harness.envs.wrappers.disturbance:GraspSlip", None),
    },
)


def perturbation_class(name: str) -> type[PerturbationWrapper]:
    """The wrapper class registered under ``name`` (or named ``"package.module:Class"``)."""
    return PERTURBATIONS.resolve_class(name, PerturbationWrapper)


def perturbation_options(name: str, params: dict[str, Any], path: str = "params") -> Any:
    """The perturbation's own config object from plain data (errors name the field)."""
    return from_dict(perturbation_class(name).Config, params, path)


def wrap(env: gym.Env, name: str, level: int, seed: int = 0, params: dict[str, Any] | None = None) -> Any:
    """``env`` wrapped in the perturbation ``name`` at ``level`` (0: still wrapped, but a pass-through)."""
    cls = perturbation_class(name)
    return cls(env, level=level, seed=seed, config=perturbation_options(name, params or {}))


def map_images(obs: dict[str, Any], fn: Callable[[str, np.ndarray], np.ndarray]) -> dict[str, Any]:
    """A copy of ``obs`` with every camera image replaced by ``fn(camera, image)``."""
    if "images" not in obs:
        return obs
    return {**obs, "images": {cam: fn(cam, img) for cam, img in obs["images"].items()}}
