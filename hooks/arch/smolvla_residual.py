"""SmolVLA's residual stream, rebuilt from submodule hooks; capture and additive steering.

LeRobot's SmolVLA computes each decoder block (VLM text model and action expert
alike) inline in ``SmolVLMWithExpertModel.forward``::

    resid_mid  = resid_pre + o_proj(attention(input_layernorm(resid_pre)))
    resid_post = mlp(post_attention_layernorm(resid_mid)) + resid_mid   # in place on mlp's output

and never calls the block's own ``forward``. Two hooks per block rebuild
``resid_post`` exactly: a forward pre-hook on ``post_attention_layernorm``
keeps ``resid_mid`` (its input) and a forward hook on ``mlp`` adds it to the
MLP output, the same float additions in the same dtype, so the result is
bit-identical to the tensor the next block reads (``tests/hooks/
test_smolvla_residual.py`` checks ``torch.equal`` against the next block's
``input_layernorm`` input, and the final norm's input for the last block).

Steering adds a vector to ``resid_post`` where the next block reads it: a
forward hook on ``mlp`` (registered first, ``prepend=True``) returns
``mlp_out + scale * v``; LeRobot's in-place ``+= resid_mid`` then yields
``resid_post + scale * v``, which both the residual and the next block's
attention see. Steering ``llm.blocks.{L-1}.resid_post`` (the last VLM block)
cannot change actions: the prefix pass only keeps each block's *input* as its
KV cache and discards the final output; :class:`SmolVLAResidualSteer` warns.

Names: ``llm.blocks.{i}.resid_post`` (VLM text block i; runs once per action
chunk on the prefix tokens) and ``expert.blocks.{j}.resid_post`` (expert block
j; runs once per denoising step on the ``chunk_size`` action tokens).
:class:`SmolVLAResidualCapture` also accepts every single-module name of
:mod:`~mistvla.hooks.arch.smolvla_points` (``resid_pre``, ``attn_out``,
``mlp_out``, ``final_norm``, ``vision.blocks.{i}.resid_post``,
``projector.out``) and copies what it reads inside the hook.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
import torch
import torch.nn as nn
from torch.utils.hooks import RemovableHandle

from mistvla.hooks.arch import smolvla_points
from mistvla.hooks.points import resolve
from mistvla.hooks.session import HookSession, register_point

_RESID_POST = re.compile(r"^(llm|expert)\.blocks\.(\d+)\.resid_post$")


def _stack(vlm_with_expert: nn.Module, stream: str) -> nn.ModuleList:
    if stream == "llm":
        return vlm_with_expert.get_vlm_model().text_model.layers
    return vlm_with_expert.lm_expert.layers


def resid_post_names(model: nn.Module) -> list[str]:
    """Every ``llm.blocks.{i}.resid_post`` and ``expert.blocks.{j}.resid_post`` of ``model``."""
    _, wx = smolvla_points.find_vlm_with_expert(model)
    return [f"{s}.blocks.{i}.resid_post" for s in ("llm", "expert") for i in range(len(_stack(wx, s)))]


def resid_post_block(model: nn.Module, name: str) -> nn.Module:
    """The decoder block (a ``LlamaDecoderLayer``) whose ``resid_post`` ``name`` denotes."""
    match = _RESID_POST.match(name)
    if match is None:
        raise KeyError(f"{name!r} is not a SmolVLA resid_post name (llm|expert).blocks.<i>.resid_post")
    _, wx = smolvla_points.find_vlm_with_expert(model)
    stream, index = match.group(1), int(match.group(2))
    layers = _stack(wx, stream)
    if not 0 <= index < len(layers):
        raise KeyError(f"{name!r}: the {stream} stack has blocks 0..{len(layers) - 1}")
    return layers[index]


def is_dead_for_actions(model: nn.Module, name: str) -> bool:
    """True for ``llm.blocks.{L-1}.resid_post``: nothing downstream of it reaches the actions."""
    _, wx = smolvla_points.find_vlm_with_expert(model)
    return name == f"llm.blocks.{len(_stack(wx, 'llm')) - 1}.resid_post"


class HandleGroup:
    """Several hook handles removed together (quacks like ``RemovableHandle``)."""

    def __init__(self, handles: list[RemovableHandle]) -> None:
        self.handles = handles

    def remove(self) -> None:
        """Remove every handle (idempotent)."""
        handles, self.handles = self.handles, []
        for h in handles:
            h.remove()


# fn(resid_post, mlp_out) -> new mlp output (the block then adds resid_mid to it) or None.
ResidFn = Callable[[torch.Tensor, torch.Tensor], "torch.Tensor | None"]


def _hook_block(block: nn.Module, name: str, fn: ResidFn, *, prepend: bool) -> HandleGroup:
    """Pre-hook keeping ``resid_mid`` + mlp hook calling ``fn(resid_mid + mlp_out, mlp_out)``."""
    mid: list[torch.Tensor] = []

    def keep_mid(module: nn.Module, args: tuple[Any, ...]) -> None:
        mid[:] = [args[0]]  # resid_mid; LeRobot never modifies it afterwards

    def on_mlp(module: nn.Module, args: tuple[Any, ...], out: torch.Tensor) -> torch.Tensor | None:
        if not mid:
            raise RuntimeError(f"{name}: mlp ran before post_attention_layernorm")
        return fn(out + mid.pop(), out)  # same addition LeRobot does next, in the same dtype

    return HandleGroup(
        [
            block.post_attention_layernorm.register_forward_pre_hook(keep_mid, prepend=prepend),
            block.mlp.register_forward_hook(on_mlp, prepend=prepend),
        ]
    )


def register_resid_post(
    model: nn.Module, name: str, on_hidden: Callable[[torch.Tensor], torch.Tensor | None]
) -> HandleGroup:
    """``register_point``'s contract for a SmolVLA ``resid_post``: ``on_hidden(h) -> new_h | None``.

    ``h`` is the reconstructed ``resid_post``; a returned ``new_h`` replaces it by
    adding ``new_h - h`` to the MLP output (so ``new_h is h`` or an equal tensor
    leaves the stream bit-identical). This is the plug for the generic
    :mod:`~mistvla.hooks.capture` / :mod:`~mistvla.hooks.steering` sessions.
    """
    block = resid_post_block(model, name)

    def fn(h: torch.Tensor, out: torch.Tensor) -> torch.Tensor | None:
        new = on_hidden(h)
        return None if new is None else out + (new - h)

    return _hook_block(block, name, fn, prepend=False)


class SmolVLAResidualCapture(HookSession):
    """Record hidden states at SmolVLA hook points: one tensor per forward call, per name.

    ``records[name]`` is a list of ``(batch, tokens, dim)`` tensors, copied (and
    moved to CPU when ``to_cpu``) inside the hook. ``llm.*`` names get one
    entry per predicted chunk, ``expert.*`` names one per denoising step;
    steps that pop LeRobot's action queue run nothing and add nothing. A
    steering session on the same point (whenever entered) is reflected.

    >>> SmolVLAResidualCapture.__mro__[1].__name__
    'HookSession'
    """

    def __init__(self, model: nn.Module, names: Iterable[str], *, to_cpu: bool = True) -> None:
        super().__init__()
        self.model = model
        self.names = list(dict.fromkeys(names))
        self.to_cpu = to_cpu
        self.records: dict[str, list[torch.Tensor]] = {}
        for name in self.names:  # fail before any forward pass
            if _RESID_POST.match(name):
                resid_post_block(model, name)
            else:
                resolve(model, name, arch="smolvla")

    def _keep(self, t: torch.Tensor) -> torch.Tensor:
        t = t.detach()
        return t.to("cpu", copy=True) if self.to_cpu else t.clone()

    def _on_enter(self) -> None:
        self.records = {name: [] for name in self.names}

    def _register(self) -> None:
        for name in self.names:
            if _RESID_POST.match(name):
                fn = self._resid_recorder(name)
                self._add(_hook_block(resid_post_block(self.model, name), name, fn, prepend=False))
            else:
                point = resolve(self.model, name, arch="smolvla").point
                self._add(register_point(point, self._recorder(name)))

    def _recorder(self, name: str) -> Callable[[torch.Tensor], None]:
        def on_hidden(h: torch.Tensor) -> None:
            self.records[name].append(self._keep(h))

        return on_hidden

    def _resid_recorder(self, name: str) -> ResidFn:
        def fn(h: torch.Tensor, out: torch.Tensor) -> None:
            self.records[name].append(self._keep(h))

        return fn


class SmolVLAResidualSteer(HookSession):
    """Add a vector to ``resid_post`` at the given names while active.

    ``vectors[name]`` has shape ``(dim,)`` (every token) or ``(tokens, dim)``;
    ``dim`` is the block's hidden size (VLM and expert differ). ``mode``:
    ``"absolute"`` adds ``scale * v``; ``"relative"`` adds ``scale * ||h|| * v / ||v||``
    per token (``h`` the unsteered ``resid_post``), as :mod:`~mistvla.hooks.steering`.
    The hooks are registered first on their modules, so a capture at the same
    point records the steered stream.

    >>> SmolVLAResidualSteer.__mro__[1].__name__
    'HookSession'
    """

    def __init__(
        self,
        model: nn.Module,
        vectors: Mapping[str, Any],
        *,
        scale: float = 1.0,
        mode: str = "absolute",
    ) -> None:
        super().__init__()
        if mode not in ("absolute", "relative"):
            raise ValueError(f"mode must be 'absolute' or 'relative', got {mode!r}")
        self.model, self.scale, self.mode = model, float(scale), mode
        self.vectors: dict[str, torch.Tensor] = {}
        self.calls = 0
        """Forward calls the steering hooks modified since the session was entered."""
        for name, vec in vectors.items():
            dim = resid_post_block(model, name).mlp.down_proj.out_features
            vec = torch.as_tensor(np.asarray(vec) if not isinstance(vec, torch.Tensor) else vec)
            if vec.ndim not in (1, 2) or vec.shape[-1] != dim:
                raise ValueError(
                    f"{name}: steering vector shape {tuple(vec.shape)}; expected (dim,) or (tokens, dim), dim={dim}"
                )
            if is_dead_for_actions(model, name):
                warnings.warn(
                    f"{name} is the last VLM block's output: SmolVLA discards it, steering it cannot change actions",
                    stacklevel=2,
                )
            self.vectors[name] = vec

    def _on_enter(self) -> None:
        self.calls = 0

    def _register(self) -> None:
        for name, vec in self.vectors.items():
            block = resid_post_block(self.model, name)
            self._add(_hook_block(block, name, self._adder(vec), prepend=True))

    def _adder(self, vec: torch.Tensor) -> ResidFn:
        norm = float(vec.float().norm())
        unit = vec / norm if norm > 0 else torch.zeros_like(vec)

        def fn(h: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
            if vec.ndim == 2 and vec.shape[0] != out.shape[1]:
                raise ValueError(f"steering vector has {vec.shape[0]} tokens, the stream has {out.shape[1]}")
            self.calls += 1
            if self.mode == "absolute":
                delta = (self.scale * vec).to(device=out.device, dtype=out.dtype)
            else:
                size = h.float().norm(dim=-1, keepdim=True) * self.scale
                delta = (size * unit.to(h.device).float()).to(out.dtype)
            return out + delta

        return fn
