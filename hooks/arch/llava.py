"""Hook tables of Llava (transformers) and OpenVLA (Prismatic remote code).

>>> OPENVLA_TABLE.points["llm.blocks.{i}.resid_post"]
('language_model.model.layers.{i}',)
>>> LLAVA_TABLE.points["llm.final_norm"]
('model.language_model.norm', 'language_model.model.norm')
"""

from __future__ import annotations

from mistvla.hooks.points import RESID_PRE, ArchHookTable, llm_points, model_type

# transformers >= 4.52 Llava: model.language_model is the bare LlamaModel;
# older versions: language_model.model (checked second).
_LLAVA = {
    name: (path, path.replace("model.language_model.", "language_model.model.", 1))
    for name, (path,) in llm_points("model.language_model").items()
}
_LLAVA.update(
    {
        "vision.blocks.{i}.resid_post": (
            "model.vision_tower.vision_model.encoder.layers.{i}",
            "vision_tower.vision_model.encoder.layers.{i}",
        ),
        "projector.out": ("model.multi_modal_projector", "multi_modal_projector"),
    }
)

# OpenVLA (Prismatic remote code, modeling_prismatic.py): `language_model` is a
# LlamaForCausalLM, `vision_backbone.featurizer` a timm DINOv2 ViT,
# `vision_backbone.fused_featurizer` a timm SigLIP ViT, `projector` an MLP.
_OPENVLA = llm_points("language_model.model")
_OPENVLA.update(
    {
        "vision.blocks.{i}.resid_post": ("vision_backbone.featurizer.blocks.{i}",),
        "vision_fused.blocks.{i}.resid_post": ("vision_backbone.fused_featurizer.blocks.{i}",),
        "projector.out": ("projector",),
    }
)

OPENVLA_TABLE = ArchHookTable(
    "openvla",
    _OPENVLA,
    detect=lambda m: (
        model_type(m) in {"openvla", "prismatic"}
        or all(hasattr(m, a) for a in ("vision_backbone", "projector", "language_model"))
    ),
    reads_input=RESID_PRE,
)
LLAVA_TABLE = ArchHookTable("llava", _LLAVA, detect=lambda m: model_type(m) == "llava", reads_input=RESID_PRE)
