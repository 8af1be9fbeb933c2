"""Several OpenVLA steps as one left-padded batch: greedy decoding with positions as if unpadded.

Prompts differ in length with the instruction, so the batch is left-padded:
every row's last prompt position is then the last column, where decoding
starts. Padding is masked out of attention, and each row gets explicit
``position_ids`` counting its real positions only (``cumsum(mask) - 1``), so
every real token sits at the position it has when run alone (RoPE sees the
same angles), and every decoding step continues from the row's own length.
What remains is rounding: a batched matrix product may round differently from
a batch of one (about 1e-6 relative in float32 on the CPU).

The two families differ in where the image goes:

- ``llava``: the processor already expanded ``<image>`` into one token per patch
  in ``input_ids``; the model's own forward merges the patch features, and takes
  ``position_ids``.
- ``openvla`` (Prismatic remote code): the model inserts the patch embeddings
  after ``<s>`` itself, passes ``position_ids=None`` to its language model and
  allows cached decoding for batch size 1 only. The batch is therefore built
  here as that forward builds it (``[<s>, patches, rest]`` per row, from
  ``vision_backbone``, ``projector`` and the input embeddings), left-padded, and
  run through ``language_model`` directly with the mask and positions; decoding
  calls ``language_model`` as well. Hooks see the same modules run.

>>> import torch
>>> ids, mask, pos, pads = left_pad([torch.tensor([[5, 6, 7]]), torch.tensor([[8]])], pad_id=0)
>>> ids.tolist(), mask.tolist(), pos.tolist(), pads
([[5, 6, 7], [0, 0, 8]], [[1, 1, 1], [0, 0, 1]], [[0, 1, 2], [0, 0, 0]], ((0, 0), (0, 2)))
"""

from __future__ import annotations

from typing import Any

import torch

from mistvla.hooks.positions import PromptPadding, prompt_padding


def left_pad(
    rows: list[torch.Tensor], pad_id: int | float = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, tuple[tuple[int, int], ...]]:
    """Left-pad (1, L_i, ...) rows to one batch: (values, attention mask, position ids, per-row padding)."""
    longest = max(r.shape[1] for r in rows)
    values, masks, pads = [], [], []
    for r in rows:
        n = longest - r.shape[1]
        fill = torch.full((1, n, *r.shape[2:]), pad_id, dtype=r.dtype, device=r.device)
        values.append(torch.cat([fill, r], dim=1))
        masks.append(
            torch.cat([torch.zeros(1, n, dtype=torch.long), torch.ones(1, r.shape[1], dtype=torch.long)], 1)
        )
        pads.append((0, n))
    mask = torch.cat(masks).to(rows[0].device)
    position_ids = (mask.cumsum(-1) - 1).clamp(min=0)
    return torch.cat(values), mask, position_ids, tuple(pads)


def _llava_prefill(model: Any, items: list[dict[str, torch.Tensor]], pad_id: int) -> tuple[Any, dict]:
    ids, mask, pos, pads = left_pad([i["input_ids"] for i in items], pad_id)
    pixels = torch.cat([i["pixel_values"] for i in items])
    with prompt_padding(PromptPadding(pads)):
        out = model(input_ids=ids, pixel_values=pixels, attention_mask=mask, position_ids=pos, use_cache=True)
    return out, {"mask": mask, "pos": pos[:, -1:], "step": model}


def _prismatic_prefill(model: Any, items: list[dict[str, torch.Tensor]]) -> tuple[Any, dict]:
    pixels = torch.cat([i["pixel_values"] for i in items])
    patches = model.projector(model.vision_backbone(pixels))
    embed = model.get_input_embeddings()
    rows = []
    for k, item in enumerate(items):
        e = embed(item["input_ids"])
        rows.append(torch.cat([e[:, :1], patches[k : k + 1].to(e.dtype), e[:, 1:]], dim=1))
    embeds, mask, pos, pads = left_pad(rows, 0.0)
    lm = model.language_model
    with prompt_padding(PromptPadding(pads)):
        out = lm(inputs_embeds=embeds, attention_mask=mask, position_ids=pos, use_cache=True)
    return out, {"mask": mask, "pos": pos[:, -1:], "step": lm}


@torch.inference_mode()
def greedy_decode_batch(
    model: Any, family: str, items: list[dict[str, torch.Tensor]], n_tokens: int, pad_id: int
) -> torch.Tensor:
    """Greedy ids (batch, n_tokens) for per-item inputs of :func:`~.loading.build_inputs`, one batch."""
    if family == "openvla":
        out, state = _prismatic_prefill(model, items)
    else:
        out, state = _llava_prefill(model, items, pad_id)
    token = out.logits[:, -1, :].argmax(dim=-1, keepdim=True)
    tokens, past = [token], out.past_key_values
    mask, pos, step = state["mask"], state["pos"], state["step"]
    for _ in range(n_tokens - 1):
        mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=1)
        pos = pos + 1
        out = step(
            input_ids=token, attention_mask=mask, position_ids=pos, past_key_values=past, use_cache=True
        )
        past = out.past_key_values
        token = out.logits[:, -1, :].argmax(dim=-1, keepdim=True)
        tokens.append(token)
    return torch.cat(tokens, dim=1)
