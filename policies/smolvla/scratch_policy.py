"""Policy kind ``smolvla_scratch``: the scratch-trained SmolVLA of :mod:`.scratch` as a mistvla policy.

The same adapter as ``smolvla`` (:class:`~mistvla.policies.smolvla.policy.SmolVLAPolicy`: LeRobot's
model, saved processors, chunk queue, hooks on the real SmolVLA modules, the action expert included),
given one ``checkpoint`` directory: a shipped one holds ``policy/`` and ``vlm/``; a training run's
``.../checkpoints/last/pretrained_model`` needs ``vlm_path`` (the run's ``init/vlm``). It refuses a
checkpoint that reads anything but the agentview and wrist images and proprioception
(:func:`~mistvla.policies.smolvla.scratch.check_inputs`): never object poses.

>>> ScratchSmolVLAPolicy.name
'smolvla_scratch'
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mistvla.hooks.capture import CaptureSpec
from mistvla.hooks.steering import SteeringSpec
from mistvla.policies.base import PolicyRequirements
from mistvla.policies.smolvla.policy import SmolVLAPolicy, checkpoint_requirements
from mistvla.policies.smolvla.scratch import check_inputs


def checkpoint_dirs(checkpoint: str | os.PathLike[str], vlm_path: str | None) -> tuple[Path, Path]:
    """(policy dir, VLM dir) of a shipped (``policy/`` + ``vlm/``) or training-run checkpoint."""
    root = Path(checkpoint)
    if (root / "policy").is_dir():
        return root / "policy", Path(vlm_path) if vlm_path else root / "vlm"
    if vlm_path is None:
        raise ValueError(f"vlm_path: {root} has no vlm/ beside policy/; pass the training run's init/vlm")
    return root, Path(vlm_path)


class ScratchSmolVLAPolicy(SmolVLAPolicy):
    """SmolVLA trained here from scratch on images + instruction + proprioception."""

    name = "smolvla_scratch"

    @dataclass(frozen=True)
    class Config:
        checkpoint: str
        vlm_path: str | None = None
        device: str = "cpu"
        n_action_steps: int | None = None
        num_steps: int | None = None
        noise_seed: int | None = None
        capture: CaptureSpec | None = None

    @classmethod
    def planned_requirements(cls, params: Mapping[str, Any]) -> PolicyRequirements:
        """The cameras and size the ``checkpoint``'s ``config.json`` names (nothing is loaded)."""
        try:
            policy_dir, _ = checkpoint_dirs(params.get("checkpoint", ""), params.get("vlm_path"))
        except ValueError:
            policy_dir = Path(params.get("checkpoint", ""))
        return checkpoint_requirements(policy_dir)

    def __init__(
        self,
        checkpoint: str,
        *,
        vlm_path: str | None = None,
        device: str = "cpu",
        n_action_steps: int | None = None,
        num_steps: int | None = None,
        noise_seed: int | None = None,
        capture: CaptureSpec | None = None,
        steering: SteeringSpec | None = None,
    ) -> None:
        policy_dir, vlm = checkpoint_dirs(checkpoint, vlm_path)
        check_inputs(policy_dir)
        super().__init__(
            policy_dir, vlm_path=vlm, device=device, n_action_steps=n_action_steps, num_steps=num_steps,
            noise_seed=noise_seed, capture=capture, steering=steering,
        )  # fmt: skip
