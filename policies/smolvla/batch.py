"""Collating several episodes' preprocessed SmolVLA batches into one, language right-padded.

LeRobot's tokenizer step pads the instruction to the longest in its batch
(``pad_language_to: longest``), so a batch of one has no padding and episodes
with different instructions have language tokens of different lengths. They
are right-padded here (mask False), which SmolVLA handles itself: its prefix is
``[image tokens, language tokens, state token]``, padded keys are masked out of
attention and positions are ``cumsum(pad_mask) - 1``, so every real token has
the position it has alone. :func:`collate` also returns the padding as
:class:`~mistvla.hooks.positions.PromptPadding` of the prefix (counted from its
end: the language padding sits just before the one state token), for the
captured ``mean``.

>>> import torch
>>> a = {"observation.language.tokens": torch.tensor([[1, 2, 3]]), "x": torch.zeros(1, 2), "task": ["a"]}
>>> b = {"observation.language.tokens": torch.tensor([[4]]), "x": torch.ones(1, 2), "task": ["b"]}
>>> for d, n in ((a, 3), (b, 1)):
...     d["observation.language.attention_mask"] = torch.ones(1, n, dtype=torch.bool)
>>> batch, padding = collate([a, b])
>>> batch["observation.language.tokens"].tolist(), batch["task"], padding.pads
([[1, 2, 3], [4, 0, 0]], ['a', 'b'], ((0, 0), (-3, -1)))
>>> batch["observation.language.attention_mask"].tolist(), batch["x"].shape
([[True, True, True], [True, False, False]], torch.Size([2, 2]))
"""

from __future__ import annotations

from typing import Any

import torch

from mistvla.hooks.positions import PromptPadding

TOKENS = "observation.language.tokens"
MASK = "observation.language.attention_mask"
STATE_TOKENS = 1
"""SmolVLA's prefix ends with one state token (``state_proj`` of the state vector)."""


def _right_pad(rows: list[torch.Tensor], value: Any) -> torch.Tensor:
    longest = max(r.shape[1] for r in rows)
    return torch.cat(
        [
            torch.cat([r, torch.full((1, longest - r.shape[1]), value, dtype=r.dtype, device=r.device)], 1)
            for r in rows
        ]
    )


def collate(batches: list[dict[str, Any]]) -> tuple[dict[str, Any], PromptPadding]:
    """One batch from per-episode preprocessed batches of one row each; and the prefix padding."""
    lengths = [int(b[TOKENS].shape[1]) for b in batches]
    longest = max(lengths)
    out: dict[str, Any] = {}
    for key, first in batches[0].items():
        values = [b[key] for b in batches]
        if key == TOKENS:
            out[key] = _right_pad(values, 0)
        elif key == MASK:
            out[key] = _right_pad(values, False)
        elif isinstance(first, torch.Tensor) and first.dim() >= 1:
            out[key] = torch.cat(values)
        elif isinstance(first, list):
            out[key] = [v for value in values for v in value]
        else:
            out[key] = first
    pads = tuple((-(STATE_TOKENS + longest - n), -STATE_TOKENS) if n < longest else (0, 0) for n in lengths)
    return out, PromptPadding(pads)
