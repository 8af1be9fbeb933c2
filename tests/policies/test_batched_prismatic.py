"""The batched path for OpenVLA's Prismatic remote code, against a stand-in with Prismatic's forward.

The released OpenVLA model inserts the patch embeddings after ``<s>`` itself, passes
``position_ids=None`` and decodes with a cache for batch size 1 only, so
:mod:`mistvla.policies.openvla.batch` builds that sequence itself and runs ``language_model``.
The stand-in's ``forward`` is that of ``modeling_prismatic.py`` (multimodal branch and
cached-generation branch) around a tiny Llama; one-at-a-time decoding goes through it.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn

from mistvla.hooks.capture import Capture, CaptureSpec
from mistvla.policies.openvla.batch import greedy_decode_batch
from mistvla.policies.openvla.loading import greedy_decode


class _Patches(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, dim, kernel_size=8, stride=8)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.conv(pixels).flatten(2).transpose(1, 2)


class FakePrismatic(nn.Module):
    """vision_backbone -> projector -> [<s>, patches, rest] -> LlamaForCausalLM, as Prismatic's forward."""

    def __init__(self) -> None:
        super().__init__()
        from transformers import LlamaConfig, LlamaForCausalLM

        torch.manual_seed(0)
        cfg = LlamaConfig(
            vocab_size=64,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=3,
            num_attention_heads=2,
            num_key_value_heads=2,
            max_position_embeddings=128,
        )
        self.vision_backbone = _Patches(16)
        self.projector = nn.Linear(16, 32)
        self.language_model = LlamaForCausalLM(cfg).eval()
        with torch.no_grad():
            self.language_model.lm_head.weight.normal_(0.0, 1.0)

    def get_input_embeddings(self) -> nn.Module:
        return self.language_model.get_input_embeddings()

    def forward(
        self, input_ids, attention_mask=None, pixel_values=None, past_key_values=None, use_cache=None
    ):
        if input_ids.shape[1] == 1:
            assert input_ids.shape[0] == 1, "Generation is only currently supported for batch size of 1!"
            return self.language_model(
                input_ids=input_ids,
                attention_mask=None,
                position_ids=None,
                past_key_values=past_key_values,
                use_cache=use_cache,
            )
        patches = self.projector(self.vision_backbone(pixel_values))
        emb = self.get_input_embeddings()(input_ids)
        embeds = torch.cat([emb[:, :1], patches, emb[:, 1:]], dim=1)
        ones = torch.ones(patches.shape[:2], dtype=attention_mask.dtype)
        mask = torch.cat([attention_mask[:, :1], ones, attention_mask[:, 1:]], dim=1)
        return self.language_model(
            input_ids=None,
            attention_mask=mask,
            position_ids=None,
            past_key_values=None,
            inputs_embeds=embeds,
            use_cache=use_cache,
        )


def test_prismatic_batch_equals_its_forward_one_at_a_time():
    model = FakePrismatic()
    gen = torch.Generator().manual_seed(0)
    items = []
    for length in (9, 4, 6):  # three prompt lengths: a padded batch
        ids = torch.randint(3, 64, (1, length), generator=gen)
        ids[0, 0] = 1  # <s>
        items.append(
            {
                "input_ids": ids,
                "attention_mask": torch.ones_like(ids),
                "pixel_values": torch.randn(1, 3, 16, 16, generator=gen),
            }
        )
    spec = CaptureSpec(("llm.blocks.1.resid_post", "llm.final_norm"), ("last_prompt", "generated", "mean"))
    cap = Capture(model, spec, arch="openvla")
    single = []
    for item in items:
        with cap:
            tokens = greedy_decode(model, item, 7)
        single.append((tokens[0], cap.pop()))
    with cap:
        batched = greedy_decode_batch(model, "openvla", items, 7, pad_id=0)
    record = cap.pop()
    for i, (tokens, alone) in enumerate(single):
        np.testing.assert_array_equal(batched[i].numpy(), tokens.numpy())
        row = record.row(i)
        for point, arrays in alone.arrays.items():
            for pos, x in arrays.items():
                np.testing.assert_allclose(
                    row.arrays[point][pos], x[0], rtol=0, atol=1e-5, err_msg=f"{point}/{pos}"
                )
