"""SmolVLA through LeRobot 0.4.4: ``SmolVLAPolicy`` plus its saved pre/post processors.

The checkpoint is a LeRobot pretrained directory (``config.json``,
``model.safetensors``, ``policy_preprocessor.json``,
``policy_postprocessor.json`` and their statistics), e.g. a local snapshot of
``HuggingFaceVLA/smolvla_libero`` or one written by
:func:`mistvla.policies.testing.tiny_smolvla.build_tiny_smolvla`.

Per step: the env observation becomes LeRobot's LIBERO batch
(:mod:`~mistvla.policies.smolvla.observations`), the saved preprocessor renames,
tokenises (the instruction plus ``"\\n"``) and normalises it, LeRobot's
``select_action`` pops one action from its queue (predicting a new chunk of
``chunk_size`` actions and queueing the first ``n_action_steps`` when the queue
is empty) and the saved postprocessor un-normalises it. Like LeRobot's LIBERO
evaluation, the action goes to the env unchanged apart from clipping to
[-1, 1], which robosuite's controller does anyway.

Hooks (``set_capture`` / ``set_steering``: the generic
:class:`~mistvla.hooks.capture.Capture` / :class:`~mistvla.hooks.steering.SteeringSession`;
``resid_post`` through the taps of :mod:`mistvla.hooks.arch.smolvla_taps`) are active
only while the model runs, i.e. on steps that predict a new chunk
(``replanned``); ``last_capture`` then holds that chunk's record and stays
unchanged on the steps that pop the queue. Every expert call spans
``chunk_size`` tokens, so the generic capture treats each denoising step as a
new sequence and records the last one.

Each policy (and each :meth:`~SmolVLAPolicy.fork`) keeps its own queue of the
chunk's actions: LeRobot's lives on the shared model, so forks running
episodes side by side would pop each other's. The queue is filled from
LeRobot's ``predict_action_chunk``, the computation its ``select_action``
runs, so the actions are the same. :meth:`~SmolVLAPolicy.select_actions_for`
predicts the chunks of every episode whose queue is empty in one batch
(language right-padded, :mod:`.batch`); see its docstring.

Hub access is never needed: the VLM's config, processor and tokenizer are
read from ``vlm_path`` (default: the checkpoint's ``vlm_model_name``) and the
VLM weights come from the checkpoint itself (``load_vlm_weights`` is forced
off, the weights are loaded with ``strict=True``).

>>> from mistvla.policies.base import HookedPolicy
>>> SmolVLAPolicy.name, issubclass(SmolVLAPolicy, HookedPolicy)
('smolvla', True)
"""

from __future__ import annotations

import json
import os
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mistvla.hooks.arch.smolvla_taps import attach_resid_post_taps
from mistvla.hooks.capture import CaptureSpec
from mistvla.hooks.positions import prompt_padding
from mistvla.hooks.steering import SteeringSpec
from mistvla.policies.base import ACTION_DIM, HookedPolicy, PolicyRequirements
from mistvla.policies.smolvla.batch import collate
from mistvla.policies.smolvla.observations import LIBERO_CAMERA_MAP, STATE_KEY, to_lerobot_batch

ACTION_KEY = "action"


def _rename_map(preprocessor: Any) -> dict[str, str]:
    """The rename map of the checkpoint's ``rename_observations_processor`` step (or empty)."""
    for step in getattr(preprocessor, "steps", []):
        mapping = getattr(step, "rename_map", None)
        if isinstance(mapping, dict):
            return dict(mapping)
    return {}


def checkpoint_requirements(
    pretrained_path: str | os.PathLike[str],
    camera_map: Mapping[str, str] | None = None,
    image_size: int | None = None,
) -> PolicyRequirements:
    """The cameras (``camera_map``'s env names) and the render size (the checkpoint's first image
    feature unless ``image_size``) a SmolVLA checkpoint reads; its class requirements when unreadable."""
    try:
        features = json.loads((Path(pretrained_path) / "config.json").read_text())["input_features"]
    except (OSError, ValueError, KeyError):
        return SmolVLAPolicy.requirements
    shapes = [f["shape"] for f in features.values() if f.get("type") == "VISUAL"]
    size = image_size or (shapes[0][-1] if shapes else PolicyRequirements.image_size)
    cameras = tuple(LIBERO_CAMERA_MAP if camera_map is None else camera_map)
    return PolicyRequirements(cameras=cameras, image_size=int(size))


class SmolVLAPolicy(HookedPolicy):
    """A LeRobot SmolVLA checkpoint behind mistvla's :class:`~mistvla.policies.base.Policy` API.

    Args:
        pretrained_path: local LeRobot pretrained directory.
        camera_map: mistvla camera -> LeRobot image key (before the checkpoint's
            own rename step). Default: LeRobot's LIBERO names.
        state_key: LeRobot key of the 8-D LIBERO state.
        vlm_path: local SmolVLM directory (config, processor, tokenizer);
            overrides the checkpoint's ``vlm_model_name``.
        device: torch device for the model and processors.
        n_action_steps: actions executed per predicted chunk (default: checkpoint's).
        num_steps: flow-matching denoising steps (default: checkpoint's).
        noise_seed: seed of a private generator for the flow-matching noise
            (re-seeded by ``reset(seed=...)``); None uses torch's global RNG as LeRobot does.
        image_size: render size asked of the env (default: the checkpoint's image feature size).
        flip_horizontal: flip env frames left-right, reproducing LeRobot's 180-degree
            rotation of raw robosuite frames (see :mod:`~mistvla.policies.smolvla.observations`).
        clip_actions: clip to [-1, 1] (robosuite clips the same way).
        capture, steering: optional hook specs (also settable later).
    """

    name = "smolvla"
    arch = "smolvla"
    batched_inference = True

    @dataclass(frozen=True)
    class Config:
        pretrained_path: str
        camera_map: dict[str, str] | None = None
        state_key: str = STATE_KEY
        vlm_path: str | None = None
        device: str = "cpu"
        n_action_steps: int | None = None
        num_steps: int | None = None
        noise_seed: int | None = None
        image_size: int | None = None
        flip_horizontal: bool = True
        clip_actions: bool = True
        capture: CaptureSpec | None = None

    def __init__(
        self,
        pretrained_path: str | os.PathLike[str],
        *,
        camera_map: Mapping[str, str] | None = None,
        state_key: str = STATE_KEY,
        vlm_path: str | os.PathLike[str] | None = None,
        device: str = "cpu",
        n_action_steps: int | None = None,
        num_steps: int | None = None,
        noise_seed: int | None = None,
        image_size: int | None = None,
        flip_horizontal: bool = True,
        clip_actions: bool = True,
        capture: CaptureSpec | None = None,
        steering: SteeringSpec | None = None,
    ) -> None:
        super().__init__()
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import torch
        from lerobot.configs.policies import PreTrainedConfig
        from lerobot.policies.factory import make_pre_post_processors
        from lerobot.policies.smolvla.modeling_smolvla import SmolVLAPolicy as LeRobotSmolVLA

        path = Path(pretrained_path)
        if not (path / "config.json").is_file() or not (path / "model.safetensors").is_file():
            raise FileNotFoundError(
                f"{path} is not a LeRobot pretrained dir (config.json + model.safetensors)"
            )
        config = PreTrainedConfig.from_pretrained(path)
        if config.type != "smolvla":
            raise ValueError(f"{path} holds a {config.type!r} policy, not smolvla")
        config.device = device
        config.load_vlm_weights = False  # every weight is in model.safetensors
        if vlm_path is not None:
            config.vlm_model_name = str(vlm_path)
        if num_steps is not None:
            config.num_steps = int(num_steps)
        if n_action_steps is not None:
            if not 1 <= n_action_steps <= config.chunk_size:
                raise ValueError(f"n_action_steps must be in [1, chunk_size={config.chunk_size}]")
            config.n_action_steps = int(n_action_steps)
        self.config = config
        try:
            self.model = LeRobotSmolVLA.from_pretrained(path, config=config, strict=True)
        except OSError as err:
            if Path(config.vlm_model_name).is_dir():
                raise
            raise OSError(
                f"cannot load the VLM {config.vlm_model_name!r} named by {path}/config.json offline; "
                "pass vlm_path=<local SmolVLM dir with its config, processor and tokenizer>"
            ) from err
        # resid_post as hookable (parameter-free) modules, for the generic capture/steer sessions.
        attach_resid_post_taps(self.model)
        pre_overrides: dict[str, Any] = {"device_processor": {"device": device}}
        if vlm_path is not None:
            pre_overrides["tokenizer_processor"] = {"tokenizer_name": str(vlm_path)}
        self.preprocessor, self.postprocessor = make_pre_post_processors(
            config,
            pretrained_path=str(path),
            preprocessor_overrides=pre_overrides,
            postprocessor_overrides={"device_processor": {"device": "cpu"}},
        )
        self.camera_map = dict(LIBERO_CAMERA_MAP if camera_map is None else camera_map)
        self.state_key = state_key
        self._check_features(_rename_map(self.preprocessor))
        self.flip_horizontal = flip_horizontal
        self.clip_actions = clip_actions
        self.noise_seed = noise_seed
        self._generator = None if noise_seed is None else torch.Generator().manual_seed(noise_seed)
        self.replanned = False
        """True when the last ``select_action`` ran the model (a new chunk), False when it popped the queue."""
        self._queue: deque[Any] = deque(maxlen=config.n_action_steps)
        self.set_capture(capture)
        self.set_steering(steering)
        self.requirements = checkpoint_requirements(path, self.camera_map, image_size)

    @classmethod
    def planned_requirements(cls, params: Mapping[str, Any]) -> PolicyRequirements:
        """The cameras and image size :meth:`__init__` will ask for, from ``config.json`` alone."""
        return checkpoint_requirements(
            params.get("pretrained_path", ""), params.get("camera_map"), params.get("image_size")
        )

    def _check_features(self, rename: Mapping[str, str]) -> None:
        """Fail early and clearly when the env-to-policy key mapping does not fit the checkpoint."""
        expected = set(self.config.image_features)
        provided = {rename.get(k, k): k for k in self.camera_map.values()}
        unknown = sorted(set(provided) - expected)
        if unknown:
            raise ValueError(
                f"camera_map {self.camera_map} gives image keys {[provided[k] for k in unknown]} "
                f"that the checkpoint does not read (after its rename map {rename}); "
                f"it reads {sorted(expected)}"
            )
        uncovered = sorted(expected - set(provided))
        if len(uncovered) > self.config.empty_cameras:
            raise ValueError(
                f"the checkpoint reads image keys {uncovered} that camera_map {self.camera_map} "
                f"does not provide (it allows {self.config.empty_cameras} empty cameras)"
            )
        state = self.config.robot_state_feature
        if state is None or rename.get(self.state_key, self.state_key) != STATE_KEY:
            raise ValueError(f"state key {self.state_key!r} does not map to the checkpoint's {STATE_KEY!r}")
        if tuple(state.shape) != (8,):
            raise ValueError(f"the checkpoint's state has shape {tuple(state.shape)}; LIBERO's is (8,)")
        action = self.config.action_feature
        if action is None or tuple(action.shape) != (ACTION_DIM,):
            shape = None if action is None else tuple(action.shape)
            raise ValueError(f"the checkpoint's action has shape {shape}, LIBERO needs ({ACTION_DIM},)")

    def reset(self, instruction: str, *, seed: int | None = None) -> None:
        """Start an episode: clear LeRobot's action queue; re-seed the noise generator if asked."""
        super().reset(instruction, seed=seed)
        self.model.reset()
        self.preprocessor.reset()
        self.postprocessor.reset()
        self._queue.clear()
        self.replanned = False
        if seed is not None:
            import torch

            self._generator = torch.Generator().manual_seed(seed)

    def queued_actions(self) -> int:
        """How many actions of the current chunk are still queued (0: the next step re-plans)."""
        return len(self._queue)

    def fork(self) -> SmolVLAPolicy:
        """Shares the model; its own action queue and a copy of the noise generator's state."""
        import torch

        other = super().fork()
        other._queue = deque(self._queue, maxlen=self._queue.maxlen)
        if self._generator is not None:
            other._generator = torch.Generator().set_state(self._generator.get_state())
        return other

    def _batch(self, obs: dict[str, Any]) -> dict[str, Any]:
        if self.instruction is None:
            raise RuntimeError("call reset(instruction) before select_action")
        batch = to_lerobot_batch(
            obs,
            self.instruction,
            self.camera_map,
            state_key=self.state_key,
            flip_horizontal=self.flip_horizontal,
        )
        return self.preprocessor(batch)

    def _noise(self) -> Any:
        """This episode's initial flow-matching noise of the next chunk (None: LeRobot's global RNG)."""
        import torch

        if self._generator is None:
            return None
        shape = (1, self.config.chunk_size, self.config.max_action_dim)
        return torch.randn(shape, generator=self._generator).to(self.config.device)

    def _queue_chunk(self, chunk: Any) -> None:
        """Queue the first ``n_action_steps`` actions of a (1, chunk, dim) prediction, as LeRobot does."""
        self._queue.extend(chunk.transpose(0, 1)[: self.config.n_action_steps])

    def select_action(self, obs: dict[str, Any]) -> np.ndarray:
        """One float32 (7,) action: delta eef pose (6) and gripper (-1 open, +1 close)."""
        import torch

        batch = self._batch(obs)
        self.replanned = self.queued_actions() == 0
        # no_grad (as LeRobot), not inference_mode: captured activations stay usable for training probes.
        # Hooks only around a chunk prediction; popping a queued action runs no forward pass.
        if self.replanned:
            noise = self._noise()
            with torch.no_grad(), self.hook_session():
                self._queue_chunk(self.model.predict_action_chunk(batch, noise=noise))
        return self._pop_action()

    @classmethod
    def select_actions_for(
        cls, policies: Sequence[Any], observations: Sequence[dict[str, Any]]
    ) -> np.ndarray:
        """Several episodes (forks of one policy) at once: the chunks they need in one batch, (N, 7).

        When any episode's queue is empty, every row runs (steering rows index
        the whole batch), and only the rows that re-plan keep their chunk, draw
        their noise and get a new ``last_capture``; the others pop their queue.
        With ``noise_seed`` each row's noise comes from its own generator, so
        the actions are those of one by one up to float32 rounding of the
        batched forward (without it, LeRobot draws the batch's noise from
        torch's global RNG).
        """
        import torch

        lead = policies[0]
        batches = [p._batch(o) for p, o in zip(policies, observations, strict=True)]
        need = [p.queued_actions() == 0 for p in policies]
        for p, n in zip(policies, need, strict=True):
            p.replanned = n
        if any(need):
            batch, padding = collate(batches)
            noises = [p._noise() if n else None for p, n in zip(policies, need, strict=True)]
            noise = None
            if all(z is not None for z, n in zip(noises, need, strict=True) if n):
                zero = torch.zeros(1, lead.config.chunk_size, lead.config.max_action_dim)
                noise = torch.cat([zero.to(lead.config.device) if z is None else z for z in noises])
            with torch.no_grad(), prompt_padding(padding), lead._armed() as records:
                chunks = lead.model.predict_action_chunk(batch, noise=noise)
            for i, p in enumerate(policies):
                if need[i]:
                    p._queue_chunk(chunks[i : i + 1])
                    if records:
                        p.last_capture = records[0].row(i)
        return np.stack([p._pop_action() for p in policies])

    def _pop_action(self) -> np.ndarray:
        import torch

        action = self.postprocessor(self._queue.popleft())
        out = action.detach().to("cpu", torch.float32).numpy().reshape(-1)
        if out.shape != (ACTION_DIM,):
            raise RuntimeError(f"SmolVLA returned an action of shape {out.shape}, expected ({ACTION_DIM},)")
        if self.clip_actions:
            out = np.clip(out, -1.0, 1.0)
        return out.astype(np.float32)

    def hook_model(self) -> Any:
        """LeRobot's ``SmolVLAPolicy`` module; hook names resolve under ``model.vlm_with_expert``."""
        return self.model
