"""OpenVLA policy: the published LIBERO evaluation protocol, with optional capture and steering.

One step (``select_action``), each part documented with its upstream source in
docs/openvla.md:

1. the agentview frame -> OpenVLA's training view, JPEG round trip, Lanczos
   resize to 224, optional 0.9-area centre crop (:mod:`.openvla_preprocess`);
2. prompt ``In: What action should the robot take to {instruction}?\\nOut:`` plus
   the empty ``▁`` token, through the checkpoint's processor (:mod:`.openvla_loading`);
3. greedy decoding of 7 tokens with a KV cache;
4. tokens -> bins -> un-normalized action with q01/q99 -> gripper to robosuite's
   convention (:mod:`.openvla_actions`).

Hooks exist only during step 3: a capture spec's arrays of the step are left in
``last_capture`` (batch axis dropped, CPU float32); a steering spec is applied
to every step while set. Nothing stays registered between steps.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

# Absolute: pytest --doctest-modules imports this file as top-level `policies.openvla`,
# where `..hooks` would reach beyond the top-level package.
from mistvla.hooks.capture import Capture, CaptureRecord, CaptureSpec
from mistvla.hooks.steering import Steer, SteeringSpec

from .base import ACTION_DIM, Policy, PolicyRequirements
from .openvla_actions import decode_action, is_action_token
from .openvla_loading import build_inputs, build_prompt, greedy_decode, load_vla
from .openvla_preprocess import preprocess_image

LIBERO_RENDER_SIZE = 256
"""``run_libero_eval.py`` renders LIBERO at 256 x 256 and resizes to 224."""


class OpenVLAPolicy(Policy):
    """OpenVLA (or the tiny offline Llava stand-in) from a local checkpoint directory.

    Args:
        checkpoint: directory in the openvla/openvla-7b layout, or a tiny Llava dir.
        unnorm_key: dataset statistics to un-normalize with, e.g. ``libero_spatial``
            (``_no_noops`` is appended when only that exists); None if there is one.
        center_crop: 0.9-area centre crop, for models fine-tuned with random crops
            (the released LIBERO fine-tunes were; ``run_libero_eval`` defaults to True).
        camera: observation camera to read.
        mirror_image: mirror the env's upright frame into OpenVLA's training view
            (see :func:`~mistvla.policies.openvla_preprocess.to_training_view`).
        binarize_gripper: ``sign`` of the gripper command, as upstream.
        device, dtype: default cuda + bfloat16 when a GPU is present, else cpu + float32.
        capture, steering: optional hook specs (also settable later).
    """

    name = "openvla"
    has_hooks = True
    requirements = PolicyRequirements(cameras=("agentview",), image_size=LIBERO_RENDER_SIZE, proprio=False)

    def __init__(
        self,
        checkpoint: str | Path,
        unnorm_key: str | None = None,
        center_crop: bool = False,
        camera: str = "agentview",
        mirror_image: bool = True,
        binarize_gripper: bool = True,
        device: str | None = None,
        dtype: str | None = None,
        capture: CaptureSpec | None = None,
        steering: SteeringSpec | None = None,
    ) -> None:
        super().__init__()
        self.vla = load_vla(checkpoint, device=device, dtype=dtype)
        self.unnorm_key, self.action_stats = self.vla.action_stats(unnorm_key)
        self.action_dim = len(self.action_stats["q01"])
        if self.action_dim != ACTION_DIM:
            raise ValueError(f"norm_stats[{self.unnorm_key!r}] has {self.action_dim} action dims, expected 7")
        self.center_crop, self.camera, self.mirror_image = center_crop, camera, mirror_image
        self.binarize_gripper = binarize_gripper
        self.requirements = PolicyRequirements(
            cameras=(camera,), image_size=LIBERO_RENDER_SIZE, proprio=False
        )
        self._capture: Capture | None = None
        self._steer: Steer | None = None
        self.set_capture(capture)
        self.set_steering(steering)
        self.last_capture: CaptureRecord | None = None
        self.last_step: dict[str, Any] = {}

    @property
    def model(self) -> Any:
        """The loaded transformers model."""
        return self.vla.model

    def hook_model(self) -> Any:
        """The module hook names resolve against (the whole VLA)."""
        return self.vla.model

    def set_capture(self, spec: CaptureSpec | None) -> None:
        """Record ``spec``'s points/positions on every following step (None: stop)."""
        self._capture = None if spec is None else Capture(self.vla.model, spec)

    def set_steering(self, spec: SteeringSpec | None) -> None:
        """Steer every following step with ``spec`` (None: stop)."""
        self._steer = None if spec is None else Steer(self.vla.model, spec)

    def reset(self, instruction: str) -> None:
        """Start an episode; OpenVLA is stateless across steps, so this stores the prompt only."""
        super().reset(instruction)
        self.prompt = build_prompt(instruction)
        self.last_capture, self.last_step = None, {}

    def preprocess(self, obs: dict[str, Any]) -> np.ndarray:
        """The 224 x 224 uint8 image the processor receives for this observation."""
        frame = obs["images"][self.camera]
        return preprocess_image(frame, center_crop=self.center_crop, mirror=self.mirror_image)

    def predict_tokens(self, image: np.ndarray) -> np.ndarray:
        """Greedy action token ids for a preprocessed image, with hooks active only meanwhile."""
        if self.instruction is None:
            raise RuntimeError("call reset(instruction) before select_action")
        inputs = build_inputs(self.vla, self.prompt, image)
        steer, cap = self._steer, self._capture
        # Steering is entered first so that a capture at the same point records the steered state.
        if steer is not None:
            steer.__enter__()
        try:
            if cap is not None:
                with cap:
                    tokens = greedy_decode(self.vla.model, inputs, self.action_dim)
                    self.last_capture = cap.pop().squeeze_batch()
            else:
                tokens = greedy_decode(self.vla.model, inputs, self.action_dim)
        finally:
            if steer is not None:
                steer.__exit__(None, None, None)
        return tokens[0].cpu().numpy()

    def select_action(self, obs: dict[str, Any]) -> np.ndarray:
        """float32 (7,): delta pose in [q01, q99] of the chosen statistics, gripper -1 open / +1 close."""
        image = self.preprocess(obs)
        tokens = self.predict_tokens(image)
        normalized, action = decode_action(
            tokens, self.vla.vocab_size, self.action_stats, binarize_gripper=self.binarize_gripper
        )
        self.last_step = {
            "token_ids": tokens,
            "normalized": normalized.astype(np.float32),
            "all_action_tokens": bool(is_action_token(tokens, self.vla.vocab_size).all()),
        }
        return action
