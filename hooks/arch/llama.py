"""Hook table of a Llama decoder: the reference policy's language model, LlamaForCausalLM, LlamaModel.

The canonical ``llm.*`` names resolve to the same modules as in OpenVLA's
language model (a Llama too): ``llm.blocks.{i}.resid_post`` is decoder layer
i's output, ``llm.final_norm`` the final RMSNorm.

>>> LLAMA_TABLE.points["llm.blocks.{i}.resid_post"]
('language_model.layers.{i}', 'model.layers.{i}', 'layers.{i}')
"""

from __future__ import annotations

from mistvla.hooks.points import RESID_PRE, ArchHookTable, llm_points, model_type

# Candidates in order: a wrapper holding a LlamaModel as `language_model` (the
# reference policy), LlamaForCausalLM (`model`), a bare LlamaModel (no prefix).
_PREFIXES = ("language_model", "model")
_LLAMA = {
    name: tuple([llm_points(p)[name][0] for p in _PREFIXES] + [llm_points("x")[name][0].removeprefix("x.")])
    for name in llm_points("x")
}


def is_llama(model: object) -> bool:
    """A reference-policy model, or a transformers Llama model (not inside a VLA)."""
    if model_type(model) in {"mistvla_reference", "llama"}:  # type: ignore[arg-type]
        return True
    return model_type(getattr(model, "language_model", None)) == "llama" and not hasattr(
        model, "vision_backbone"
    )


LLAMA_TABLE = ArchHookTable("llama", _LLAMA, detect=is_llama, reads_input=RESID_PRE)
