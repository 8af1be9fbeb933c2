"""The reference policy's network: a transformers ``LlamaModel`` over instruction and state tokens.

Token layout (fixed length, no padding mask needed):

``[instruction] [state] [environment] [action query]``

- instruction: the mean of its words' Llama embeddings (word-level vocabulary;
  ``pool_instruction=False``: one token per word, ``prompt_length`` of them);
- ``state``: a 2-layer MLP of the 14 proprioception features;
- ``environment``: a 2-layer MLP of the object features (12 per object);
- ``action query``: a learned embedding; the causal attention lets it read
  every token before it, and its final-norm state feeds the action head.

The action head gives 6 arm values (normalized by the training statistics)
and 1 gripper logit. Hook names (``llm.blocks.{i}.resid_post`` ...) resolve
through :mod:`mistvla.hooks.arch.llama`; position ``last_prompt`` is the
action query token, the only position the action is read from.

>>> import torch
>>> m = ReferenceModel(ReferenceConfig(vocab_size=10, env_dim=24, hidden_size=32, num_layers=2,
...                                    num_heads=2, intermediate_size=64, prompt_length=4))
>>> out = m(torch.ones(3, 4, dtype=torch.long), torch.zeros(3, 14), torch.zeros(3, 24))
>>> tuple(out.shape)
(3, 7)
>>> from mistvla.hooks.points import detect_arch, valid_names
>>> detect_arch(m), valid_names(m)[-2:]
('llama', ['llm.blocks.1.resid_pre', 'llm.final_norm'])
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import torch
import torch.nn as nn

from mistvla.policies.reference.features import STATE_FEATURES


@dataclass
class ReferenceConfig:
    """Sizes of the network (defaults: the shipped checkpoints)."""

    vocab_size: int
    env_dim: int
    """Object features: 12 per object slot (15 with ``relative_env``)."""
    state_dim: int = STATE_FEATURES
    hidden_size: int = 256
    num_layers: int = 4
    num_heads: int = 4
    intermediate_size: int = 512
    prompt_length: int = 24
    """Instruction word ids, ``<bos>`` included, padded."""
    pool_instruction: bool = True
    """One instruction token (mean of its word embeddings) instead of one per word: 4 tokens
    instead of ``prompt_length + 3``, ~6x cheaper to train; every suite's instructions have
    distinct bags of words."""

    relative_env: bool = False
    """Each object's position relative to the end effector is part of its features."""
    history: int = 0
    """> 0: the state gains the displacement since ``history`` steps ago (``state_dim`` 19)."""

    model_type: ClassVar[str] = "mistvla_reference"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def seq_len(self) -> int:
        return (1 if self.pool_instruction else self.prompt_length) + 3


def _mlp(d_in: int, d: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(d_in, d), nn.SiLU(), nn.Linear(d, d))


class ReferenceModel(nn.Module):
    """Instruction + state tokens -> (B, 7): 6 normalized arm actions and a gripper logit."""

    def __init__(self, config: ReferenceConfig) -> None:
        super().__init__()
        from transformers import LlamaConfig, LlamaModel

        self.config = config
        llama = LlamaConfig(
            vocab_size=config.vocab_size,
            hidden_size=config.hidden_size,
            intermediate_size=config.intermediate_size,
            num_hidden_layers=config.num_layers,
            num_attention_heads=config.num_heads,
            num_key_value_heads=config.num_heads,
            max_position_embeddings=max(64, config.seq_len),
            pad_token_id=0,
        )
        llama._attn_implementation = "eager"  # deterministic on CPU, hooks see plain tensors
        self.language_model = LlamaModel(llama)
        self.state_proj = _mlp(config.state_dim, config.hidden_size)
        self.env_proj = _mlp(config.env_dim, config.hidden_size)
        self.action_query = nn.Parameter(torch.randn(config.hidden_size) * 0.02)
        self.action_head = nn.Linear(config.hidden_size, 7)

    def embed(self, ids: torch.Tensor, state: torch.Tensor, env: torch.Tensor) -> torch.Tensor:
        """(B, seq_len, hidden) input embeddings."""
        words = self.language_model.embed_tokens(ids)
        if self.config.pool_instruction:
            keep = (ids != 0).unsqueeze(-1).to(words.dtype)  # <pad> is id 0
            words = (words * keep).sum(1, keepdim=True) / keep.sum(1, keepdim=True).clamp(min=1.0)
        query = self.action_query.expand(ids.shape[0], 1, -1)
        return torch.cat([words, self.state_proj(state)[:, None], self.env_proj(env)[:, None], query], dim=1)

    def causal_mask(self, seq_len: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        """The (1, 1, seq, seq) additive causal mask eager attention adds (0 visible, dtype's min hidden).

        The same values transformers builds in every forward (``masking_utils.eager_mask``; building it
        there with vmap costs about 70% of this small model's forward on CPU), made once per length.
        """
        key = (seq_len, dtype, device)
        cache = self.__dict__.setdefault("_causal_masks", {})
        if key not in cache:
            visible = torch.ones(seq_len, seq_len, dtype=torch.bool, device=device).tril()
            zero = torch.tensor(0.0, dtype=dtype, device=device)
            cache[key] = torch.where(visible, zero, torch.finfo(dtype).min)[None, None]
        return cache[key]

    def rotary(self, embeds: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """(position ids, the rotary (cos, sin) table) for this length, made once per length by the
        language model's own ``rotary_emb`` (no weights: the same values every forward)."""
        key = (embeds.shape[1], embeds.dtype, embeds.device)
        cache = self.__dict__.setdefault("_rotary", {})
        if key not in cache:
            with torch.no_grad():
                positions = torch.arange(embeds.shape[1], device=embeds.device)[None]
                cache[key] = (positions, self.language_model.rotary_emb(embeds, positions))
        return cache[key]

    def decode(self, embeds: torch.Tensor) -> torch.Tensor:
        """The language model's last hidden states: ``LlamaModel.forward``'s own steps on input embeddings
        (each decoder layer, then the final norm, called as modules, so every hook on them fires), without
        the per-call glue (input checks, mask and rotary rebuilt, output dataclass) that cost ~25 % of this
        small model's forward. Bit-identical to ``language_model(inputs_embeds=...)`` (tested)."""
        mask = self.causal_mask(embeds.shape[1], embeds.dtype, embeds.device)
        positions, rotary = self.rotary(embeds)
        hidden = embeds
        for layer in self.language_model.layers:
            hidden = layer(hidden, attention_mask=mask, position_ids=positions, position_embeddings=rotary)
        return self.language_model.norm(hidden)

    def forward(self, ids: torch.Tensor, state: torch.Tensor, env: torch.Tensor) -> torch.Tensor:
        return self.action_head(self.decode(self.embed(ids, state, env))[:, -1])
