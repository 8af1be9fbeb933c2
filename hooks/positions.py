"""Token-position names shared by capture and steering, and how a forward call maps to them.

A hooked module sees one call per forward pass. Under ``generate()`` with a KV
cache (or the equivalent greedy loop) the first call, the *prefill*, sees the
whole prompt (text and image tokens, ``T > 1`` positions) and each *decode*
call sees one new token (``T == 1``). A call with ``T > 1`` therefore starts a
new sequence; a call with ``T == 1`` continues it.

Positions, in the order the model computes them:

- ``last_prompt``: the last prompt position (its output decodes action token 0).
- ``generated``: the positions whose outputs decode each generated token: row 0
  is the last prompt position, row k (k >= 1) the decode call that reads token
  k-1 and predicts token k. With 7 action tokens there are 7 rows. (The last
  generated token is never fed back, so no state "of" it exists.)
- ``mean``: mean over all prompt positions of the prefill (image and text).
- ``prompt`` (steering): every prompt position; ``all`` (steering): everything.

Under padding (a batch of prompts of different lengths, one forward pass),
:func:`prompt_padding` says which prompt positions of each batch row are
padding; the ``llm.*`` points' ``mean`` then averages each row over its own
positions only, so a batched capture equals the one-at-a-time one. A padded
layout keeps every row's last prompt position real (left padding, or padding
inside the prompt as SmolVLA's language tokens), so ``last_prompt`` and
``generated`` need nothing; steering a padding position changes nothing any
real position reads (padding is masked out of attention).

>>> slice_for("last_prompt", prefill=True, length=5)
slice(4, 5, None)
>>> slice_for("prompt", prefill=False, length=1) is None
True
>>> slice_for("generated", prefill=False, length=1)
slice(0, 1, None)
>>> with prompt_padding(PromptPadding(((0, 2), (0, 0)))):
...     current_padding().rows(5)
[range(0, 2), range(0, 0)]
>>> PromptPadding(((-3, -1),)).rows(10), current_padding() is None
([range(7, 9)], True)
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass

CAPTURE_POSITIONS = ("last_prompt", "generated", "mean")
"""Positions a capture can record."""
STEER_POSITIONS = ("prompt", "last_prompt", "generated", "all")
"""Positions a steering vector can be added at."""


def is_prefill(length: int) -> bool:
    """A call over more than one position is a prefill (starts a new sequence)."""
    return length > 1


def check_positions(positions: tuple[str, ...] | list[str], allowed: tuple[str, ...]) -> tuple[str, ...]:
    """Validate position names, returning them as a tuple."""
    positions = tuple(positions)
    bad = [p for p in positions if p not in allowed]
    if bad or not positions:
        raise ValueError(f"unknown or empty positions {bad or positions}; allowed: {', '.join(allowed)}")
    return positions


def slice_for(position: str, prefill: bool, length: int) -> slice | None:
    """Positions of one call (of ``length`` tokens) that ``position`` covers, or None."""
    if position == "all":
        return slice(None)
    if prefill:
        if position == "prompt":
            return slice(None)
        if position in ("last_prompt", "generated"):
            return slice(length - 1, length)
        raise ValueError(f"position {position!r} has no slice")
    if position in ("generated",):
        return slice(0, length)
    return None


@dataclass(frozen=True)
class PromptPadding:
    """Per batch row, the ``(start, stop)`` of its padding in the prompt (slice semantics: negative counts from the end)."""

    pads: tuple[tuple[int, int], ...]

    def rows(self, length: int) -> list[range]:
        """Each row's padded positions in a prompt call of ``length`` positions."""
        return [range(*slice(a, b).indices(length)) for a, b in self.pads]


_PADDING: ContextVar[PromptPadding | None] = ContextVar("prompt_padding", default=None)


@contextlib.contextmanager
def prompt_padding(padding: PromptPadding | None) -> Iterator[None]:
    """Forward passes inside the block run a padded batch laid out as ``padding`` (None: unpadded)."""
    token = _PADDING.set(padding)
    try:
        yield
    finally:
        _PADDING.reset(token)


def current_padding() -> PromptPadding | None:
    """The padding of the batch being run (None outside :func:`prompt_padding`)."""
    return _PADDING.get()
