"""A word-level tokenizer built offline from task instructions (no model hub).

Instructions are lower-cased and split on whitespace and punctuation; every
word seen when the vocabulary was built has an id, anything else is ``<unk>``.
Encoding pads (or truncates) to a fixed length so that every prompt has the
same token layout.

>>> tok = WordTokenizer.build(["pick up the bowl", "put the bowl on the plate"])
>>> ids = tok.encode("Pick up the plate!", length=6)
>>> ids
[1, 5, 9, 8, 6, 0]
>>> tok.decode(ids)
'pick up the plate'
>>> tok.decode(tok.encode("open the drawer", length=4))
'<unk> the <unk>'
>>> WordTokenizer.from_dict(tok.to_dict()).vocab == tok.vocab
True
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

SPECIALS = ("<pad>", "<bos>", "<unk>")
PAD, BOS, UNK = 0, 1, 2
_WORD = re.compile(r"[a-z0-9]+")


def words(text: str) -> list[str]:
    """Lower-case alphanumeric words of ``text``."""
    return _WORD.findall(text.lower())


@dataclass(frozen=True)
class WordTokenizer:
    """Word -> id; ids 0-2 are ``<pad>``, ``<bos>``, ``<unk>``."""

    vocab: dict[str, int]

    @classmethod
    def build(cls, texts: Iterable[str]) -> WordTokenizer:
        """Vocabulary of every word in ``texts``, sorted (deterministic)."""
        found = sorted({w for t in texts for w in words(t)})
        return cls({w: i for i, w in enumerate([*SPECIALS, *found])})

    def encode(self, text: str, length: int) -> list[int]:
        """``<bos>`` + word ids, padded with ``<pad>`` (or truncated) to ``length``."""
        ids = [BOS, *(self.vocab.get(w, UNK) for w in words(text))][:length]
        return ids + [PAD] * (length - len(ids))

    def decode(self, ids: Iterable[int]) -> str:
        """The words of ``ids`` without specials (``<unk>`` kept)."""
        inv = {i: w for w, i in self.vocab.items()}
        return " ".join(inv[i] for i in ids if i not in (PAD, BOS))

    def to_dict(self) -> dict[str, Any]:
        return {"type": "word", "vocab": self.vocab}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> WordTokenizer:
        return cls({str(k): int(v) for k, v in d["vocab"].items()})
