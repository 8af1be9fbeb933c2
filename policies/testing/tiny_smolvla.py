"""Build a tiny random-weight SmolVLA checkpoint offline (no Hugging Face hub).

Two directories are written:

- ``<root>/vlm``: a SmolVLM "model id" that ``AutoConfig``, ``AutoProcessor``
  and ``AutoTokenizer`` load from disk: a :class:`SmolVLMConfig` with a tiny
  SigLIP-style vision tower and a tiny Llama text model, a
  :class:`SmolVLMProcessor` (image + video processor) and a byte-level BPE
  tokenizer trained here with the ``tokenizers`` library, carrying SmolVLM's
  special tokens (``<fake_token_around_image>``, ``<image>``, ``<global-img>``,
  ``<end_of_utterance>``, ``<row_i_col_j>`` ...) as ``extra_special_tokens`` so
  that ``tokenizer.fake_image_token_id`` and ``global_image_token_id`` exist, as
  LeRobot's SmolVLA reads them.
- ``<root>/policy``: a LeRobot pretrained directory (``config.json``,
  ``model.safetensors``, ``policy_preprocessor.json``,
  ``policy_postprocessor.json`` and their normalisation statistics), written by
  LeRobot's own ``save_pretrained`` so that it loads through exactly the path a
  real checkpoint such as ``HuggingFaceVLA/smolvla_libero`` does.

Everything is seeded: the same arguments give the same weights. Building takes
about a second on a CPU.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# Keys of the LeRobot LIBERO convention (HuggingFaceVLA/libero datasets).
IMAGE_KEYS: tuple[str, ...] = ("observation.images.image", "observation.images.image2")
STATE_KEY = "observation.state"
ACTION_KEY = "action"

SPECIAL_TOKENS: dict[str, str] = {
    "fake_image_token": "<fake_token_around_image>",
    "image_token": "<image>",
    "global_image_token": "<global-img>",
    "end_of_utterance_token": "<end_of_utterance>",
    "video_token": "<video>",
}
"""SmolVLM's extra special tokens, by the tokenizer attribute name transformers gives them."""

_CORPUS = [
    "pick up the black bowl between the plate and the ramekin and place it on the plate",
    "open the middle drawer of the cabinet",
    "put the bowl on the stove",
    "put the wine bottle on top of the cabinet",
    "turn on the stove and put the moka pot on it",
    "pick up the alphabet soup and place it in the basket",
    "push the plate to the front of the stove",
    "put both the cream cheese box and the butter in the basket",
    "User: Assistant: What action should the robot take?",
]


@dataclass(frozen=True)
class TinySmolVLASpec:
    """Sizes of the tiny model. Defaults give ~0.3 M parameters and ~20 ms per chunk."""

    text_hidden: int = 64
    text_layers: int = 4
    heads: int = 4
    kv_heads: int = 2
    head_dim: int = 16
    vision_hidden: int = 32
    vision_layers: int = 2
    image_size: int = 32
    patch_size: int = 8
    num_expert_layers: int = -1
    """-1: one expert layer per VLM layer (SmolVLA's default); else a divisor of ``text_layers``."""
    self_attn_every_n_layers: int = 2
    chunk_size: int = 4
    n_action_steps: int = 2
    num_steps: int = 2
    """Flow-matching denoising steps per chunk."""
    state_dim: int = 8
    action_dim: int = 7
    image_keys: tuple[str, ...] = IMAGE_KEYS
    tokenizer_max_length: int = 16
    freeze_vision_encoder: bool = True
    train_expert_only: bool = True
    """LeRobot's defaults (fine-tuning a pretrained VLM); False for both to train every weight from scratch."""
    seed: int = 0


def _train_tokenizer():
    """A byte-level BPE tokenizer (any text encodes) with SmolVLM's special tokens."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    rows = [f"<row_{r}_col_{c}>" for r in range(1, 7) for c in range(1, 7)]
    specials = [
        "<|endoftext|>",
        "<|im_start|>",
        "<|im_end|>",
        *SPECIAL_TOKENS.values(),
        *rows,
    ]
    tok = Tokenizer(models.BPE(unk_token="<|endoftext|>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=512,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_CORPUS, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<|im_start|>",
        eos_token="<end_of_utterance>",
        pad_token="<|im_end|>",
        unk_token="<|endoftext|>",
        additional_special_tokens=rows,
        extra_special_tokens=dict(SPECIAL_TOKENS),
        model_max_length=2048,
    )


def build_tiny_smolvlm(out_dir: str | Path, spec: TinySmolVLASpec = TinySmolVLASpec()) -> Path:
    """Write a tiny SmolVLM config, processor and tokenizer to ``out_dir`` and return it.

    No weights are written: LeRobot builds the VLM from this config
    (``load_vlm_weights=False``) and the SmolVLA checkpoint carries all weights.
    """
    from transformers import LlamaConfig, SmolVLMConfig
    from transformers.models.smolvlm import (
        SmolVLMImageProcessor,
        SmolVLMProcessor,
        SmolVLMVideoProcessor,
    )
    from transformers.models.smolvlm.configuration_smolvlm import SmolVLMVisionConfig

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = _train_tokenizer()
    vocab = len(tokenizer)
    text = LlamaConfig(
        vocab_size=vocab,
        hidden_size=spec.text_hidden,
        intermediate_size=2 * spec.text_hidden,
        num_hidden_layers=spec.text_layers,
        num_attention_heads=spec.heads,
        num_key_value_heads=spec.kv_heads,
        head_dim=spec.head_dim,
        max_position_embeddings=512,
        rms_norm_eps=1e-5,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )
    vision = SmolVLMVisionConfig(
        hidden_size=spec.vision_hidden,
        intermediate_size=2 * spec.vision_hidden,
        num_hidden_layers=spec.vision_layers,
        num_attention_heads=2,
        image_size=spec.image_size,
        patch_size=spec.patch_size,
    )
    config = SmolVLMConfig(
        vision_config=vision.to_dict(),
        text_config=text.to_dict(),
        scale_factor=2,
        image_token_id=tokenizer.convert_tokens_to_ids(SPECIAL_TOKENS["image_token"]),
        pad_token_id=tokenizer.pad_token_id,
    )
    config.save_pretrained(out)
    tokens_per_image = (spec.image_size // spec.patch_size) ** 2 // 4
    size = {"longest_edge": spec.image_size}
    processor = SmolVLMProcessor(
        image_processor=SmolVLMImageProcessor(size=size, max_image_size=size),
        tokenizer=tokenizer,
        video_processor=SmolVLMVideoProcessor(size=size, max_image_size=size),
        image_seq_len=tokens_per_image,
    )
    processor.save_pretrained(out)
    return out


def _dataset_stats(spec: TinySmolVLASpec) -> dict:
    """Fixed, non-trivial normalisation statistics (mean/std/min/max) for state and action."""
    import torch

    g = torch.Generator().manual_seed(spec.seed + 1)
    stats = {}
    for key, dim in ((STATE_KEY, spec.state_dim), (ACTION_KEY, spec.action_dim)):
        mean = 0.1 * torch.randn(dim, generator=g)
        std = 0.2 + 0.3 * torch.rand(dim, generator=g)
        stats[key] = {"mean": mean, "std": std, "min": mean - 3 * std, "max": mean + 3 * std}
    return stats


def build_tiny_smolvla(root: str | Path, spec: TinySmolVLASpec = TinySmolVLASpec()) -> Path:
    """Build the VLM dir and a saved LeRobot SmolVLA checkpoint under ``root``; return the policy dir."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from lerobot.configs.types import FeatureType, PolicyFeature
    from lerobot.policies.smolvla.configuration_smolvla import SmolVLAConfig
    from lerobot.policies.smolvla.modeling_smolvla import SmolVLAPolicy
    from lerobot.policies.smolvla.processor_smolvla import make_smolvla_pre_post_processors

    root = Path(root)
    vlm_dir = build_tiny_smolvlm(root / "vlm", spec)
    image_shape = (3, spec.image_size, spec.image_size)
    inputs = {k: PolicyFeature(type=FeatureType.VISUAL, shape=image_shape) for k in spec.image_keys}
    inputs[STATE_KEY] = PolicyFeature(type=FeatureType.STATE, shape=(spec.state_dim,))
    config = SmolVLAConfig(
        input_features=inputs,
        output_features={ACTION_KEY: PolicyFeature(type=FeatureType.ACTION, shape=(spec.action_dim,))},
        device="cpu",
        vlm_model_name=str(vlm_dir),
        load_vlm_weights=False,
        num_vlm_layers=spec.text_layers,
        num_expert_layers=spec.num_expert_layers,
        self_attn_every_n_layers=spec.self_attn_every_n_layers,
        resize_imgs_with_padding=(spec.image_size, spec.image_size),
        chunk_size=spec.chunk_size,
        n_action_steps=spec.n_action_steps,
        num_steps=spec.num_steps,
        tokenizer_max_length=spec.tokenizer_max_length,
        freeze_vision_encoder=spec.freeze_vision_encoder,
        train_expert_only=spec.train_expert_only,
        max_state_dim=16,
        max_action_dim=16,
        push_to_hub=False,
    )
    torch.manual_seed(spec.seed)
    policy = SmolVLAPolicy(config)
    pre, post = make_smolvla_pre_post_processors(config, dataset_stats=_dataset_stats(spec))
    policy_dir = root / "policy"
    policy.save_pretrained(policy_dir)
    pre.save_pretrained(policy_dir)
    post.save_pretrained(policy_dir)
    return policy_dir
