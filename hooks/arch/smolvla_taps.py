"""Parameter-free ``resid_post_tap`` modules: SmolVLA's ``resid_post`` as a hookable module.

The generic sessions (:mod:`~mistvla.hooks.capture`, :mod:`~mistvla.hooks.steering`,
and the harness's steering intervention) hook *one module per name*. SmolVLA's
``resid_post`` is the output of no module (see :mod:`~mistvla.hooks.arch.smolvla_residual`),
so :func:`attach_resid_post_taps` gives every decoder block of both stacks a child
``resid_post_tap`` whose ``register_forward_hook`` installs the two real hooks
(pre-hook on ``post_attention_layernorm``, hook on ``mlp``) and calls the given
hook with ``(tap, (), resid_post)``. A tensor returned by the hook replaces
``resid_post`` by adding ``new - resid_post`` to the MLP output (an equal tensor
is an exact no-op). The ``smolvla`` table maps ``llm.blocks.{i}.resid_post`` and
``expert.blocks.{j}.resid_post`` to these taps, so names resolve only once taps are
attached (the SmolVLA adapter attaches them when it loads a checkpoint).

A tap has no parameters or buffers and is never called: ``state_dict``, loading and
saving are unchanged; it keeps its block in a plain list, not as a submodule.

>>> import torch.nn as nn
>>> tap = ResidPostTap(nn.Identity(), "llm.blocks.0.resid_post")
>>> list(tap.children()), len(tap.state_dict())
([], 0)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn as nn

from mistvla.hooks.arch import smolvla_points
from mistvla.hooks.arch.smolvla_residual import HandleGroup, _hook_block, _stack
from mistvla.hooks.session import hidden_of

TAP = "resid_post_tap"


class ResidPostTap(nn.Module):
    """Stand-in module whose forward hooks see (and may replace) a SmolVLA block's ``resid_post``."""

    def __init__(self, block: nn.Module, name: str) -> None:
        super().__init__()
        self._block = [block]  # a list: not registered as a child (no module cycle)
        self.hook_name = name

    def forward(self, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError(f"{self.hook_name}: a resid_post tap is never called; register hooks on it")

    def register_forward_hook(  # type: ignore[override]
        self, hook: Callable[..., Any], *, prepend: bool = False, with_kwargs: bool = False, **_: Any
    ) -> HandleGroup:
        """Call ``hook(tap, (), resid_post)`` (plus ``{}`` if ``with_kwargs``) on every block call."""

        def fn(h: torch.Tensor, out: torch.Tensor) -> torch.Tensor | None:
            res = hook(self, (), {}, h) if with_kwargs else hook(self, (), h)
            return None if res is None else out + (hidden_of(res) - h)

        return _hook_block(self._block[0], self.hook_name, fn, prepend=prepend)

    def register_forward_pre_hook(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        raise TypeError(f"{self.hook_name} is read from the output side only (use register_forward_hook)")


def attach_resid_post_taps(model: nn.Module) -> int:
    """Give every block of SmolVLA's VLM text model and expert a ``resid_post_tap`` (idempotent).

    Returns the number of taps present afterwards.
    """
    _, wx = smolvla_points.find_vlm_with_expert(model)
    n = 0
    for stream in ("llm", "expert"):
        for i, block in enumerate(_stack(wx, stream)):
            if not isinstance(getattr(block, TAP, None), ResidPostTap):
                block.add_module(TAP, ResidPostTap(block, f"{stream}.blocks.{i}.resid_post"))
            n += 1
    return n
