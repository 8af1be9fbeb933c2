"""Canonical hook names resolve to the right modules of the tiny Llava and of an OpenVLA-layout model."""

from __future__ import annotations

import pytest
import torch.nn as nn

from mistvla.hooks import detect_arch, resolve, valid_names
from mistvla.hooks.points import ArchHookTable, point_paths


def test_llava_names_and_modules(tiny):
    model, _ = tiny
    assert detect_arch(model) == "llava"
    names = valid_names(model)
    lm = model.model.language_model
    assert [n for n in names if n.endswith("resid_post") and n.startswith("llm.")] == [
        f"llm.blocks.{i}.resid_post" for i in range(len(lm.layers))
    ]
    assert resolve(model, "llm.blocks.2.resid_post").point.module is lm.layers[2]
    assert resolve(model, "llm.blocks.2.attn_out").point.module is lm.layers[2].self_attn
    assert resolve(model, "llm.blocks.2.mlp_out").point.module is lm.layers[2].mlp
    pre = resolve(model, "llm.blocks.0.resid_pre").point
    assert pre.module is lm.layers[0] and pre.reads == "input"
    assert resolve(model, "llm.final_norm").point.module is lm.norm
    vis = model.model.vision_tower.vision_model.encoder.layers
    assert resolve(model, "vision.blocks.1.resid_post").point.module is vis[1]
    assert resolve(model, "projector.out").point.module is model.model.multi_modal_projector


def test_unknown_name_lists_valid_names(tiny):
    model, _ = tiny
    with pytest.raises(KeyError) as err:
        resolve(model, "llm.blocks.99.resid_post")
    msg = str(err.value)
    assert "llm.blocks.99.resid_post" in msg and "llm.blocks.3.resid_post" in msg and "llm.final_norm" in msg
    with pytest.raises(KeyError, match="unknown architecture"):
        resolve(model, "llm.final_norm", arch="no_such_arch")


def test_unmatched_model_is_an_error():
    with pytest.raises(KeyError, match="no hook table matches"):
        detect_arch(nn.Linear(2, 2))


def _openvla_layout() -> nn.Module:
    """Real component classes in the module layout of OpenVLA's Prismatic remote code.

    The remote code itself ships only with a checkpoint; this rebuilds its tree
    (``language_model`` a LlamaForCausalLM, ``vision_backbone.featurizer`` and
    ``fused_featurizer`` timm ViTs, ``projector``) to check the name table.
    """
    from timm.models.vision_transformer import VisionTransformer
    from transformers import LlamaConfig, LlamaForCausalLM

    m = nn.Module()
    m.language_model = LlamaForCausalLM(
        LlamaConfig(
            vocab_size=300,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=3,
            num_attention_heads=2,
            num_key_value_heads=2,
        )
    )
    m.vision_backbone = nn.Module()
    kw = dict(img_size=32, patch_size=16, embed_dim=16, num_heads=2, num_classes=0)
    m.vision_backbone.featurizer = VisionTransformer(depth=2, **kw)
    m.vision_backbone.fused_featurizer = VisionTransformer(depth=3, **kw)
    m.projector = nn.Linear(32, 32)
    return m


def test_openvla_table_on_prismatic_layout():
    m = _openvla_layout()
    assert detect_arch(m) == "openvla"
    names = valid_names(m)
    assert "llm.blocks.2.resid_post" in names and "llm.blocks.3.resid_post" not in names
    assert resolve(m, "llm.blocks.1.resid_post").point.path == "language_model.model.layers.1"
    assert resolve(m, "llm.final_norm").point.module is m.language_model.model.norm
    assert resolve(m, "vision.blocks.1.resid_post").point.module is m.vision_backbone.featurizer.blocks[1]
    assert (
        resolve(m, "vision_fused.blocks.2.resid_post").point.module
        is m.vision_backbone.fused_featurizer.blocks[2]
    )
    assert resolve(m, "projector.out").point.module is m.projector


def test_first_existing_candidate_path_wins():
    m = nn.Module()
    m.new = nn.ModuleList([nn.Linear(2, 2)])
    table = ArchHookTable("t", {"llm.blocks.{i}.resid_post": ("old.{i}", "new.{i}")}, detect=lambda _: True)
    assert point_paths(m, table) == {"llm.blocks.0.resid_post": ("new.0", "output")}
