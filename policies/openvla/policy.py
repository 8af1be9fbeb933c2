"""OpenVLA policy: the published LIBERO evaluation protocol, with optional capture and steering.

One step (``select_action``), each part documented with its upstream source in
docs/openvla.md:

1. the agentview frame -> OpenVLA's training view, JPEG round trip, Lanczos
   resize to 224, optional 0.9-area centre crop (:mod:`.preprocess`);
2. prompt ``In: What action should the robot take to {instruction}?\\nOut:`` plus
   the empty ``▁`` token, through the checkpoint's processor (:mod:`.loading`);
3. greedy decoding of 7 tokens with a KV cache;
4. tokens -> bins -> un-normalized action with q01/q99 -> gripper to robosuite's
   convention (:mod:`.actions`).

Hooks exist only during step 3: a capture spec's arrays of the step are left in
``last_capture`` (batch axis dropped, CPU float32); a steering spec is applied
to every step while set. Nothing stays registered between steps.

:meth:`OpenVLAPolicy.select_actions_for` runs several episodes' steps (forks of
one policy) as one left-padded batch (:mod:`.batch`); each fork gets its own
``last_capture`` and ``last_step``, and a steering session entered inside
:func:`~mistvla.hooks.steering.steering_rows` steers its own row only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mistvla.hooks.capture import CaptureSpec
from mistvla.hooks.steering import SteeringSpec
from mistvla.policies.base import ACTION_DIM, HookedPolicy, PolicyRequirements
from mistvla.policies.openvla.actions import decode_action, is_action_token
from mistvla.policies.openvla.batch import greedy_decode_batch
from mistvla.policies.openvla.loading import build_inputs, build_prompt, greedy_decode, load_vla
from mistvla.policies.openvla.preprocess import preprocess_image

LIBERO_RENDER_SIZE = 256
"""``run_libero_eval.py`` renders LIBERO at 256 x 256 and resizes to 224."""


class OpenVLAPolicy(HookedPolicy):
    """OpenVLA (or the tiny offline Llava stand-in) from a local checkpoint directory.

    Args:
        checkpoint: directory in the openvla/openvla-7b layout, or a tiny Llava dir.
        unnorm_key: dataset statistics to un-normalize with, e.g. ``libero_spatial``
            (``_no_noops`` is appended when only that exists); None if there is one.
        center_crop: 0.9-area centre crop, for models fine-tuned with random crops
            (the released LIBERO fine-tunes were; ``run_libero_eval`` defaults to True).
        camera: observation camera to read.
        mirror_image: mirror the env's upright frame into OpenVLA's training view
            (see :func:`~mistvla.policies.openvla.preprocess.to_training_view`).
        binarize_gripper: ``sign`` of the gripper command, as upstream.
        device, dtype: default cuda + bfloat16 when a GPU is present, else cpu + float32.
        capture, steering: optional hook specs (also settable later).
    """

    name = "openvla"
    batched_inference = True
    requirements = PolicyRequirements(cameras=("agentview",), image_size=LIBERO_RENDER_SIZE)

    @dataclass(frozen=True)
    class Config:
        checkpoint: str
        unnorm_key: str | None = None
        center_crop: bool = False
        camera: str = "agentview"
        mirror_image: bool = True
        binarize_gripper: bool = True
        device: str | None = None
        dtype: str | None = None
        capture: CaptureSpec | None = None

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
        self.requirements = PolicyRequirements(cameras=(camera,), image_size=LIBERO_RENDER_SIZE)
        self.set_capture(capture)
        self.set_steering(steering)
        self.last_step: dict[str, Any] = {}

    @property
    def model(self) -> Any:
        """The loaded transformers model."""
        return self.vla.model

    def hook_model(self) -> Any:
        """The module hook names resolve against (the whole VLA)."""
        return self.vla.model

    def reset(self, instruction: str, *, seed: int | None = None) -> None:
        """Start an episode; OpenVLA is deterministic and stateless across steps: this stores the prompt."""
        super().reset(instruction, seed=seed)
        self.prompt = build_prompt(instruction)
        self.last_step = {}

    def preprocess(self, obs: dict[str, Any]) -> np.ndarray:
        """The 224 x 224 uint8 image the processor receives for this observation."""
        frame = obs["images"][self.camera]
        return preprocess_image(frame, center_crop=self.center_crop, mirror=self.mirror_image)

    def predict_tokens(self, image: np.ndarray) -> np.ndarray:
        """Greedy action token ids for a preprocessed image, with hooks active only meanwhile."""
        if self.instruction is None:
            raise RuntimeError("call reset(instruction) before select_action")
        inputs = build_inputs(self.vla, self.prompt, image)
        with self.hook_session():
            tokens = greedy_decode(self.vla.model, inputs, self.action_dim)
        return tokens[0].cpu().numpy()

    def select_action(self, obs: dict[str, Any]) -> np.ndarray:
        """float32 (7,): delta pose in [q01, q99] of the chosen statistics, gripper -1 open / +1 close."""
        return self._action(self.predict_tokens(self.preprocess(obs)))

    @classmethod
    def select_actions_for(
        cls, policies: Sequence[Any], observations: Sequence[dict[str, Any]]
    ) -> np.ndarray:
        """One left-padded batch through the model for several episodes (forks of one policy), (N, 7).

        The same actions as one by one up to float32 rounding of the batched
        matrix products (the tokens agree unless two logits nearly tie); each
        policy gets its own ``last_capture`` (its row) and ``last_step``.
        """
        lead = policies[0]
        if any(p.instruction is None for p in policies):
            raise RuntimeError("call reset(instruction) before select_action")
        items = [
            build_inputs(p.vla, p.prompt, p.preprocess(o))
            for p, o in zip(policies, observations, strict=True)
        ]
        pad_id = lead.vla.processor.tokenizer.pad_token_id
        with lead.batch_hook_session(policies):
            tokens = greedy_decode_batch(lead.vla.model, lead.vla.family, items, lead.action_dim, pad_id or 0)
        rows = tokens.cpu().numpy()
        return np.stack([p._action(t) for p, t in zip(policies, rows, strict=True)])

    def _action(self, tokens: np.ndarray) -> np.ndarray:
        """Decode one step's 7 token ids into the env action, keeping them in ``last_step``."""
        normalized, action = decode_action(
            tokens, self.vla.vocab_size, self.action_stats, binarize_gripper=self.binarize_gripper
        )
        self.last_step = {
            "token_ids": tokens,
            "normalized": normalized.astype(np.float32),
            "all_action_tokens": bool(is_action_token(tokens, self.vla.vocab_size).all()),
        }
        return action
