"""SmolVLA (LeRobot 0.4.4) hook points: module paths and the table for the generic resolver.

SmolVLA runs two Llama-style stacks side by side in
``SmolVLMWithExpertModel.forward``: the SmolVLM text model (``llm.``; the
prefix of image, language and state tokens, once per action chunk, filling the
KV cache) and the action expert (``expert.``; the noisy action tokens, once per
denoising step). It never calls a decoder layer's ``forward``: it calls
``input_layernorm``, the ``self_attn`` projections, ``o_proj``,
``post_attention_layernorm`` and ``mlp`` one by one. So a hook on a whole
layer never fires, and **the residual stream after a block (``resid_post``) is
the output of no module**: it is ``post_attention_layernorm``'s input plus
``mlp``'s output. :mod:`~mistvla.hooks.arch.smolvla_residual` rebuilds it from
those two hooks and :mod:`~mistvla.hooks.arch.smolvla_taps` exposes it as a
parameter-free child ``resid_post_tap`` of each block (once attached: the
SmolVLA adapter does), which ``llm.blocks.{i}.resid_post`` and
``expert.blocks.{j}.resid_post`` map to. The other names are one real module each:

- ``llm.blocks.{i}.resid_pre`` / ``expert.blocks.{i}.resid_pre``: input of the
  block's ``input_layernorm`` (the block input), read with a pre-hook.
- ``….attn_out``: output of ``self_attn.o_proj``; ``….mlp_out``: output of ``mlp``.
  Both tensors are then modified **in place** by LeRobot (``out_emb +=
  residual``): a capture must copy them inside the hook, a stored reference
  turns into ``resid_mid`` / ``resid_post`` after the hook returns.
- ``llm.final_norm`` / ``expert.final_norm``: output of the final RMSNorm
  (the prefix's is computed and discarded; the expert's feeds ``action_out_proj``).
- ``vision.blocks.{i}.resid_post``: SigLIP encoder layers (called normally).
- ``projector.out``: the connector (pixel shuffle + projection) output.

``expert.blocks.{j}`` indexes the expert's own layers; with
``num_expert_layers < num_vlm_layers`` expert layer ``j`` runs beside VLM
layer ``j * (num_vlm_layers // num_expert_layers)`` (see :func:`expert_vlm_index`).

:data:`SMOLVLA_TABLE` is the ``smolvla`` entry of
:data:`mistvla.hooks.points.BUILTIN_ARCHITECTURES`; this module imports nothing heavy.

>>> SMOLVLA_TABLE.name
'smolvla'
>>> SMOLVLA_POINTS["expert.blocks.{i}.mlp_out"][0]
'model.vlm_with_expert.lm_expert.layers.{i}.mlp'
"""

from __future__ import annotations

import torch.nn as nn

from mistvla.hooks.points import ArchHookTable

__all__ = ["SMOLVLA_POINTS", "SMOLVLA_TABLE", "expert_vlm_index", "find_vlm_with_expert", "is_smolvla"]

# Prefixes of SmolVLMWithExpertModel inside LeRobot's SmolVLAPolicy (hook_model()),
# inside VLAFlowMatching (policy.model), or the model itself.
_ROOTS = ("model.vlm_with_expert.", "vlm_with_expert.", "")
TEXT_LAYERS = "vlm.model.text_model.layers"
EXPERT_LAYERS = "lm_expert.layers"
VISION_LAYERS = "vlm.model.vision_model.encoder.layers"


def _paths(rel: str) -> tuple[str, ...]:
    return tuple(root + rel for root in _ROOTS)


def _block_points(prefix: str, layers: str, norm: str) -> dict[str, tuple[str, ...]]:
    return {
        f"{prefix}.blocks.{{i}}.resid_post": _paths(f"{layers}.{{i}}.resid_post_tap"),
        f"{prefix}.blocks.{{i}}.resid_pre": _paths(f"{layers}.{{i}}.input_layernorm"),
        f"{prefix}.blocks.{{i}}.attn_out": _paths(f"{layers}.{{i}}.self_attn.o_proj"),
        f"{prefix}.blocks.{{i}}.mlp_out": _paths(f"{layers}.{{i}}.mlp"),
        f"{prefix}.final_norm": _paths(norm),
    }


SMOLVLA_POINTS: dict[str, tuple[str, ...]] = {
    **_block_points("llm", TEXT_LAYERS, "vlm.model.text_model.norm"),
    **_block_points("expert", EXPERT_LAYERS, "lm_expert.norm"),
    "vision.blocks.{i}.resid_post": _paths(f"{VISION_LAYERS}.{{i}}"),
    "projector.out": _paths("vlm.model.connector"),
}
"""Canonical name template -> candidate module paths."""

SMOLVLA_READS_INPUT = frozenset({"llm.blocks.{i}.resid_pre", "expert.blocks.{i}.resid_pre"})


def find_vlm_with_expert(model: nn.Module) -> tuple[str, nn.Module]:
    """(path prefix ending in '.' or '', module) of the ``SmolVLMWithExpertModel`` inside ``model``."""
    for path, module in model.named_modules():
        if type(module).__name__ == "SmolVLMWithExpertModel":
            return (path + "." if path else ""), module
    raise KeyError(f"no SmolVLMWithExpertModel inside {type(model).__name__}; is this a LeRobot SmolVLA?")


def is_smolvla(model: nn.Module) -> bool:
    """True for LeRobot's SmolVLAPolicy, its VLAFlowMatching, or SmolVLMWithExpertModel."""
    for root in _ROOTS:
        try:
            sub = model.get_submodule(root.rstrip(".")) if root else model
        except AttributeError:
            continue
        if type(sub).__name__ == "SmolVLMWithExpertModel":
            return True
    return False


def expert_vlm_index(vlm_with_expert: nn.Module, j: int) -> int:
    """Index of the VLM layer that expert layer ``j`` runs beside (LeRobot's ``get_model_layers``)."""
    multiple = vlm_with_expert.num_vlm_layers // vlm_with_expert.num_expert_layers
    return j * multiple if multiple > 0 else j


SMOLVLA_TABLE = ArchHookTable("smolvla", SMOLVLA_POINTS, detect=is_smolvla, reads_input=SMOLVLA_READS_INPUT)
