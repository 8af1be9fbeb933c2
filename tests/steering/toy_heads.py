"""Toy policies for the steering tests, where the right answer is known: a head read off the last position
of one identity block. With ``W`` (7, H) the action is ``W h[-1]`` (arm = rows 0-5, gripper = sign of row 6);
with two pieces ``W`` (2, 7, H) it is ``W[0] h[-1]`` when ``h[-1, 0] > 0``, else ``W[1] h[-1]`` (piecewise
linear, as any ReLU network is locally: its Jacobian changes with the state)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn

from mistvla.hooks.points import ArchHookTable
from mistvla.policies.base import HookedPolicy

POINT = "llm.blocks.0.resid_post"
TOY = ArchHookTable("toy_head", {"llm.blocks.{i}.resid_post": ("layers.{i}",)}, detect=lambda m: False)


class HeadPolicy(HookedPolicy):
    """Observation ``{"h": (3, H)}``; the action off ``h[-1]`` through ``W`` (one matrix, or two pieces)."""

    arch = TOY
    action_positions = ("last_prompt",)

    def __init__(self, W: np.ndarray) -> None:
        super().__init__()
        self.net = nn.Module()
        self.net.layers = nn.ModuleList([nn.Identity()])
        self.W = torch.tensor(W, dtype=torch.float32)

    def hook_model(self) -> nn.Module:
        return self.net

    def differentiable_action(self, obs):
        with self.hook_session():
            x = self.net.layers[0](torch.as_tensor(obs["h"], dtype=torch.float32)[None])
        W = self.W if self.W.ndim == 2 else self.W[0 if float(obs["h"][-1, 0]) > 0 else 1]
        return W @ x[0, -1]

    def select_action(self, obs):
        with torch.no_grad():
            out = self.differentiable_action(obs).numpy()
        return np.concatenate([out[:6], [1.0 if out[6] > 0 else -1.0]]).astype(np.float32)
