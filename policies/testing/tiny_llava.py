"""Build a tiny random-weight OpenVLA-like model offline, saved to a local directory.

The model is a transformers ``LlavaForConditionalGeneration`` (a Llama text
model fed by a SigLIP vision tower through a projector: the same family as
OpenVLA's Prismatic model, minus the second, fused DINOv2 tower). The tokenizer
is a small SentencePiece-style BPE trained here with the ``tokenizers`` library,
so nothing is downloaded. ``dataset_statistics.json`` holds OpenVLA-layout
action statistics, so :class:`mistvla.policies.openvla.policy.OpenVLAPolicy` loads the
directory through the same Auto-class code path as a real checkpoint.

As in OpenVLA, the last ``n_bins`` (256) ids of the base vocabulary are the
action tokens; the base vocabulary here is small (about 320 ids), so a random
model emits action tokens most of the time and its decoded actions vary.

>>> build_tokenizer().vocab_size >= 256 + 32
True
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

# Words of LIBERO instructions: enough text to learn ~60 merges beyond the alphabet.
_WORDS = (
    "pick up the black bowl between plate and ramekin place it on the plate next to cookie box "
    "open top drawer of cabinet put wine bottle rack turn on stove push to front alphabet soup "
    "in basket cream cheese ketchup tomato sauce butter milk orange juice chocolate pudding "
    "salad dressing bbq both moka pots put yellow white mug microwave close book back "
    "compartment caddy left right center table wooden tray flat stove frying pan"
).split()
_PROMPT = "In: What action should the robot take to {}?\nOut:"
ACTION_BINS = 256
"""OpenVLA discretizes each action dimension into 256 bins over [-1, 1]."""


def _corpus(seed: int = 0, n: int = 400) -> list[str]:
    rng = np.random.default_rng(seed)
    lines = []
    for _ in range(n):
        words = rng.choice(_WORDS, size=int(rng.integers(3, 10)))
        lines.append(_PROMPT.format(" ".join(words)))
    return lines


def build_tokenizer(vocab_size: int = 320, seed: int = 0) -> Any:
    """Train a SentencePiece-style (``▁``-prefixed) BPE tokenizer offline.

    Returns a ``LlamaTokenizerFast`` that prepends ``<s>`` like Llama-2's and
    has ``<image>`` and ``<pad>`` as added tokens after the base vocabulary (as
    OpenVLA adds ``<PAD>`` after Llama-2's 32000 ids), so ``tokenizer.vocab_size``
    is the base vocabulary whose last 256 ids are action tokens.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>", fuse_unk=True, byte_fallback=False))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=True)
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="first", split=True)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=["<unk>", "<s>", "</s>"],
        initial_alphabet=["▁"],
        show_progress=False,
    )
    tok.train_from_iterator(_corpus(seed), trainer=trainer)
    fast = LlamaTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        add_bos_token=True,
        add_eos_token=False,
        legacy=False,
    )
    fast.add_special_tokens({"pad_token": "<pad>", "additional_special_tokens": ["<image>"]})
    fast.padding_side = "left"
    return fast


def tiny_norm_stats(key: str = "libero_spatial_no_noops", seed: int = 0) -> dict[str, Any]:
    """OpenVLA-layout statistics for one dataset: q01/q99 per dim, gripper unmasked."""
    rng = np.random.default_rng(seed)
    q99 = rng.uniform(0.3, 0.94, size=7)
    q01 = -rng.uniform(0.3, 0.94, size=7)
    q01[6], q99[6] = 0.0, 1.0
    action = {
        "mean": ((q01 + q99) / 2).tolist(),
        "std": ((q99 - q01) / 4).tolist(),
        "max": (q99 + 0.05).tolist(),
        "min": (q01 - 0.05).tolist(),
        "q01": q01.tolist(),
        "q99": q99.tolist(),
        "mask": [True] * 6 + [False],
    }
    return {key: {"action": action, "num_transitions": 1000, "num_trajectories": 10}}


def tiny_llava_config(
    tokenizer: Any,
    hidden_size: int = 64,
    num_layers: int = 4,
    vision_hidden_size: int = 32,
    vision_layers: int = 2,
    image_size: int = 224,
    patch_size: int = 32,
) -> Any:
    """A ``LlavaConfig``: Llama text model of ``hidden_size`` x ``num_layers``, SigLIP vision tower."""
    from transformers import LlamaConfig, LlavaConfig, SiglipVisionConfig

    heads = max(2, hidden_size // 32)
    text_config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=heads,
        num_key_value_heads=heads,
        max_position_embeddings=512,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    vision_config = SiglipVisionConfig(
        hidden_size=vision_hidden_size,
        intermediate_size=2 * vision_hidden_size,
        num_hidden_layers=vision_layers,
        num_attention_heads=2,
        image_size=image_size,
        patch_size=patch_size,
    )
    return LlavaConfig(
        vision_config=vision_config,
        text_config=text_config,
        image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
        projector_hidden_act="gelu",
        vision_feature_select_strategy="full",
        vision_feature_layer=-2,
        image_seq_length=(image_size // patch_size) ** 2,
        pad_token_id=tokenizer.pad_token_id,
    )


def build_tiny_llava(
    out_dir: str | Path,
    hidden_size: int = 64,
    num_layers: int = 4,
    vision_hidden_size: int = 32,
    vision_layers: int = 2,
    image_size: int = 224,
    patch_size: int = 32,
    seed: int = 0,
    unnorm_key: str = "libero_spatial_no_noops",
) -> Path:
    """Save a random tiny Llava model, its processor and norm stats into ``out_dir``.

    The image processor resizes to ``image_size`` and the vision tower sees
    ``(image_size // patch_size) ** 2`` patches (49 by default), each becoming one
    image token in the language model's sequence, after ``<s>`` as in OpenVLA.
    """
    import torch
    from transformers import LlavaForConditionalGeneration, LlavaProcessor, SiglipImageProcessor

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer(seed=seed)
    config = tiny_llava_config(
        tokenizer, hidden_size, num_layers, vision_hidden_size, vision_layers, image_size, patch_size
    )
    torch.manual_seed(seed)
    model = LlavaForConditionalGeneration(config).eval()
    # Default init (std 0.02) gives near-uniform logits; a larger output scale makes
    # greedy decoding depend clearly on the input, as in a trained model.
    with torch.no_grad():
        model.lm_head.weight.normal_(0.0, 1.0)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(out)

    image_processor = SiglipImageProcessor(
        size={"height": image_size, "width": image_size},
        image_mean=[0.5, 0.5, 0.5],
        image_std=[0.5, 0.5, 0.5],
    )
    processor = LlavaProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        patch_size=patch_size,
        vision_feature_select_strategy="full",
        image_token="<image>",
        num_additional_image_tokens=0,
    )
    processor.save_pretrained(out)
    stats = tiny_norm_stats(unnorm_key, seed=seed)
    (out / "dataset_statistics.json").write_text(json.dumps(stats, indent=2))
    return out
