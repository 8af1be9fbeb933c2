"""Load an OpenVLA-family checkpoint directory and turn (prompt, image) into model inputs.

Two layouts load through the same transformers Auto-class call:

- ``openvla``: the released openvla/openvla-7b layout (``config.json`` with
  ``model_type: openvla`` and ``auto_map`` to the Prismatic remote code,
  ``dataset_statistics.json``); needs ``trust_remote_code``.
- ``llava``: transformers' ``LlavaForConditionalGeneration`` (the tiny offline
  test model of :mod:`mistvla.policies.testing.tiny_llava`): no remote code.

The only family-specific step is where the image goes in the prompt: the
Prismatic model inserts its patch embeddings right after ``<s>`` by itself; for
Llava the prompt starts with ``<image>``, which the processor expands to one
token per patch at the same place. Everything else is shared.
"""

from __future__ import annotations

import inspect
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mistvla.policies.openvla.actions import choose_unnorm_key, load_norm_stats

PROMPT = "In: What action should the robot take to {instruction}?\nOut:"
"""OpenVLA (not v0.1) prompt, ``openvla_utils.get_vla_action``; the instruction is lower-cased."""
EMPTY_TOKEN = "▁"
"""SentencePiece's bare-space piece (id 29871 in Llama-2), appended after ``Out:`` by ``predict_action``."""
FAMILIES = ("openvla", "llava")


@dataclass
class LoadedVLA:
    """A loaded checkpoint and what decoding needs from it."""

    model: Any
    processor: Any
    family: str
    device: torch.device
    dtype: torch.dtype
    norm_stats: dict[str, Any]
    vocab_size: int
    """Base vocabulary size; action tokens are its last 256 ids."""
    empty_token_id: int
    checkpoint: Path

    def action_stats(self, unnorm_key: str | None) -> tuple[str, dict[str, Any]]:
        """(chosen key, its ``action`` statistics)."""
        key = choose_unnorm_key(self.norm_stats, unnorm_key)
        return key, self.norm_stats[key]["action"]


def pick_device_dtype(
    device: str | None = None, dtype: str | None = None
) -> tuple[torch.device, torch.dtype]:
    """bf16 on a GPU, float32 on the CPU, unless given (``dtype`` as ``"float32"``, ``"bfloat16"``…)."""
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if dtype is not None:
        return dev, getattr(torch, dtype)
    return dev, (torch.bfloat16 if dev.type == "cuda" else torch.float32)


def family_of(config: Any) -> str:
    """``openvla`` or ``llava`` from ``config.model_type``; anything else is an error."""
    mt = getattr(config, "model_type", None)
    if mt in ("openvla", "prismatic"):
        return "openvla"
    if mt == "llava":
        return "llava"
    raise ValueError(f"unsupported model_type {mt!r}; OpenVLAPolicy loads: {', '.join(FAMILIES)}")


def patch_remote_code(path: Path, config: Any) -> list[str]:
    """Make OpenVLA's remote code constructible on transformers >= 4.50; returns what was patched.

    ``PrismaticPreTrainedModel._supports_sdpa`` is a property reading
    ``self.language_model``, which ``PreTrainedModel.__init__`` now queries before
    that submodule exists (openvla/openvla#346): it becomes a plain ``True``
    class attribute on the model class. The other #346 failure (``generate()``
    passing an empty cache on the first step, so the image is dropped) does not
    arise here: :func:`greedy_decode` calls ``forward`` itself.
    """
    from transformers.dynamic_module_utils import get_class_from_dynamic_module

    ref = (getattr(config, "auto_map", None) or {}).get("AutoModelForVision2Seq")
    if not ref:
        return []
    cls = get_class_from_dynamic_module(ref, str(path), local_files_only=True)
    if isinstance(inspect.getattr_static(cls, "_supports_sdpa", None), property):
        cls._supports_sdpa = True
        return [f"{cls.__name__}._supports_sdpa"]
    return []


def load_vla(checkpoint: str | Path, device: str | None = None, dtype: str | None = None) -> LoadedVLA:
    """Load model + processor + norm stats from a local directory (no hub access)."""
    from transformers import AutoConfig, AutoModelForVision2Seq, AutoProcessor

    path = Path(checkpoint)
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"{path} is not a checkpoint directory (no config.json)")
    dev, dt = pick_device_dtype(device, dtype)
    config = AutoConfig.from_pretrained(path, trust_remote_code=True, local_files_only=True)
    family = family_of(config)
    if family == "openvla":
        patch_remote_code(path, config)
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=".*AutoModelForVision2Seq.*deprecated", category=FutureWarning
        )
        model = AutoModelForVision2Seq.from_pretrained(
            path, dtype=dt, low_cpu_mem_usage=True, trust_remote_code=True, local_files_only=True
        )
    model = model.to(dev).eval()
    processor = AutoProcessor.from_pretrained(path, trust_remote_code=True, local_files_only=True)
    tokenizer = processor.tokenizer
    vocab_size = int(tokenizer.vocab_size)
    model_vocab = getattr(model, "vocab_size", None)  # OpenVLA: text vocab - pad_to_multiple_of
    if family == "openvla" and model_vocab is not None and int(model_vocab) != vocab_size:
        raise ValueError(f"tokenizer vocab_size {vocab_size} != model.vocab_size {model_vocab}")
    empty_id = tokenizer.convert_tokens_to_ids(EMPTY_TOKEN)
    if empty_id is None or empty_id == tokenizer.unk_token_id:
        raise ValueError(f"tokenizer has no {EMPTY_TOKEN!r} token to end the prompt with")
    return LoadedVLA(
        model=model,
        processor=processor,
        family=family,
        device=dev,
        dtype=dt,
        norm_stats=load_norm_stats(path, config),
        vocab_size=vocab_size,
        empty_token_id=int(empty_id),
        checkpoint=path,
    )


def build_prompt(instruction: str) -> str:
    """The OpenVLA prompt for an instruction (lower-cased, as in ``get_vla_action``)."""
    return PROMPT.format(instruction=instruction.lower())


def build_inputs(vla: LoadedVLA, prompt: str, image: np.ndarray) -> dict[str, torch.Tensor]:
    """Processor outputs on the model's device, with the empty token appended (``predict_action``).

    The attention mask is extended by one as well (upstream leaves it one short,
    which the model treats the same as a 1 there).
    """
    from PIL import Image

    pil = Image.fromarray(np.asarray(image, dtype=np.uint8)).convert("RGB")
    if vla.family == "llava":
        image_token = vla.processor.image_token
        batch = vla.processor(images=pil, text=image_token + prompt, return_tensors="pt")
    else:
        batch = vla.processor(prompt, pil)
    ids = batch["input_ids"]
    mask = batch.get("attention_mask")
    if not bool(torch.all(ids[:, -1] == vla.empty_token_id)):
        ids = torch.cat([ids, torch.full_like(ids[:, :1], vla.empty_token_id)], dim=1)
        if mask is not None:
            mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=1)
    inputs = {
        "input_ids": ids.to(vla.device),
        "pixel_values": batch["pixel_values"].to(vla.device, vla.dtype),
    }
    if mask is not None:
        inputs["attention_mask"] = mask.to(vla.device)
    return inputs


@torch.inference_mode()
def greedy_decode(model: Any, inputs: dict[str, torch.Tensor], n_tokens: int) -> torch.Tensor:
    """Greedy decoding with a KV cache: one prefill call, then one call per new token.

    The same forward calls ``generate(do_sample=False, max_new_tokens=n_tokens)``
    makes (for OpenVLA's remote code: its cached-generation branch), without
    depending on how a transformers version prepares remote-code generation
    inputs; it does not stop at EOS (7 action tokens are always decoded).
    Returns (batch, n_tokens) token ids.
    """
    out = model(**inputs, use_cache=True)
    token = out.logits[:, -1, :].argmax(dim=-1, keepdim=True)
    tokens = [token]
    past = out.past_key_values
    for _ in range(n_tokens - 1):
        out = model(input_ids=token, past_key_values=past, use_cache=True)
        past = out.past_key_values
        token = out.logits[:, -1, :].argmax(dim=-1, keepdim=True)
        tokens.append(token)
    return torch.cat(tokens, dim=1)
