"""Language: the instruction the policy reads, paraphrased by synonym and template rewrites.

The level sets how much changes: level 1 swaps one word for a synonym, level 2
two words, level 3 every word with a synonym, level 4 also wraps the
instruction in a drawn request template, level 5 also reorders "pick up X and
place it Y" into "Y, X goes" style (a drawn clause-order template). Which
words and templates come from the episode's generator. Only the instruction
given to the policy changes (``instruction`` of the wrapper and ``info``); the
task, its goal predicate and the scene are untouched. LIBERO-PRO's own
language variants are not bundled (see ``docs/dependencies.md``).

>>> p = paraphrase("pick up the black bowl and place it on the plate", 3, np.random.default_rng(0))
>>> p != "pick up the black bowl and place it on the plate"
True
>>> paraphrase("open the drawer", 0, np.random.default_rng(0))
'open the drawer'
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

import numpy as np

from mistvla.harness.envs.wrappers.base import PerturbationWrapper

SYNONYMS: dict[str, tuple[str, ...]] = {
    "pick up": ("grab", "take", "lift"),
    "place": ("put", "set", "position"),
    "put": ("place", "set"),
    "open": ("pull open",),
    "close": ("shut", "push closed"),
    "turn on": ("switch on",),
    "turn off": ("switch off",),
    "push": ("shove", "slide"),
    "bowl": ("dish",),
    "plate": ("dish plate", "saucer"),
    "top": ("upper",),
    "drawer": ("compartment",),
    "cabinet": ("cupboard",),
    "stove": ("cooktop", "hob"),
    "next to": ("beside", "by"),
    "on": ("onto",),
    "in": ("into", "inside"),
    "black": ("dark",),
    "between": ("in between",),
}
TEMPLATES = ("please {}", "could you {}?", "i need you to {}", "your task: {}", "go ahead and {}")


def _positions(text: str) -> list[tuple[int, int, str]]:
    """Non-overlapping (start, end, phrase) of every phrase in :data:`SYNONYMS`, longest first."""
    taken: list[tuple[int, int, str]] = []
    for phrase in sorted(SYNONYMS, key=len, reverse=True):
        for m in re.finditer(rf"\b{re.escape(phrase)}\b", text):
            if all(m.end() <= s or m.start() >= e for s, e, _ in taken):
                taken.append((m.start(), m.end(), phrase))
    return sorted(taken)


def paraphrase(instruction: str, level: int, rng: np.random.Generator) -> str:
    """The instruction rewritten at ``level`` (0: unchanged)."""
    if level == 0:
        return instruction
    text = instruction.strip().lower()
    spots = _positions(text)
    n = {1: 1, 2: 2}.get(level, len(spots))
    chosen = sorted(rng.permutation(len(spots))[: min(n, len(spots))].tolist()) if spots else []
    for i in reversed(chosen):
        start, end, phrase = spots[i]
        options = SYNONYMS[phrase]
        text = text[:start] + options[int(rng.integers(len(options)))] + text[end:]
    if level >= 5:
        m = re.match(r"(.+?) and (.+?) it (.+)", text)
        if m:
            text = f"{m.group(2)} {m.group(1).split(' ', 1)[-1]} {m.group(3)}"
    if level >= 4:
        text = TEMPLATES[int(rng.integers(len(TEMPLATES)))].format(text)
    return text


class LanguagePerturbation(PerturbationWrapper):
    """Give the policy a paraphrase of the task's instruction."""

    name = "language"
    LEVELS: ClassVar[dict[int, dict[str, Any]]] = {
        1: {"synonym_swaps": 1, "template": False, "reorder": False},
        2: {"synonym_swaps": 2, "template": False, "reorder": False},
        3: {"synonym_swaps": "all", "template": False, "reorder": False},
        4: {"synonym_swaps": "all", "template": True, "reorder": False},
        5: {"synonym_swaps": "all", "template": True, "reorder": True},
    }

    def sample(self, rng: np.random.Generator, env: Any) -> dict[str, Any]:
        original = env.instruction
        return {"original": original, "instruction": paraphrase(original, self.level, rng)}

    @property
    def instruction(self) -> str:
        if self.active and self.params:
            return self.params["instruction"]
        return self.env.instruction

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        obs, info = super().reset(seed=seed, options=options)
        if self.active:
            info = {**info, "instruction": self.instruction}
        return obs, info
