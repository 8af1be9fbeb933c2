"""Canonical hook-point names per architecture, resolved to modules of a model.

A canonical name such as ``llm.blocks.3.resid_post`` means the same thing in
every architecture (the residual stream after decoder block 3 of the language
model); a per-architecture :class:`ArchHookTable` maps it to a module path
(``model.language_model.layers.3`` in transformers' Llava) and says whether the
hook reads the module's output or its input. Adding an architecture is one
table in ``hooks/arch/`` named in :data:`BUILTIN_ARCHITECTURES` (loaded lazily), or one passed
to :func:`register_architecture` at run time.

Names:

- ``llm.blocks.{i}.resid_post`` / ``resid_pre``: residual stream after / before block i.
- ``llm.blocks.{i}.attn_out`` / ``mlp_out``: what block i's attention / MLP adds to it.
- ``llm.final_norm``: the last block's residual stream after the final norm (what
  ``lm_head`` reads); ``llm.blocks.{L-1}.resid_post`` is the same stream before it.
- ``vision.blocks.{i}.resid_post``: residual stream of the (first) vision tower;
  ``vision_fused.…`` the second tower of a fused backbone (OpenVLA's SigLIP).
- ``projector.out``: image tokens as the language model receives them.

>>> import torch.nn as nn
>>> toy = nn.Module()
>>> toy.layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(2)])
>>> register_architecture(ArchHookTable("toy", {"llm.blocks.{i}.resid_post": ("layers.{i}",)},
...                                     detect=lambda m: hasattr(m, "layers")))
>>> valid_names(toy)
['llm.blocks.0.resid_post', 'llm.blocks.1.resid_post']
>>> resolve(toy, "llm.blocks.1.resid_post").point.module is toy.layers[1]
True
>>> resolve(toy, "llm.blocks.7.resid_post")
Traceback (most recent call last):
...
KeyError: "hook point 'llm.blocks.7.resid_post' is not valid for architecture 'toy'; valid: llm.blocks.0.resid_post, llm.blocks.1.resid_post"
>>> _ = ARCHITECTURES.pop("toy")
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import torch.nn as nn

Reads = Literal["output", "input"]


@dataclass(frozen=True)
class ArchHookTable:
    """Canonical name template -> candidate module-path templates for one architecture.

    Templates may contain ``{i}`` (a block index); the first candidate path that
    exists in the model wins, which covers module renames across library versions.
    Names listed in ``reads_input`` are read from the module's input (forward
    pre-hook) instead of its output.
    """

    name: str
    points: dict[str, tuple[str, ...]]
    detect: Callable[[nn.Module], bool]
    reads_input: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class HookPoint:
    """A resolved hook point: canonical name, module path, module, and which side is read."""

    name: str
    path: str
    module: nn.Module
    reads: Reads


@dataclass(frozen=True)
class Resolved:
    """Result of :func:`resolve`: the architecture name and the hook point."""

    arch: str
    point: HookPoint


# Built-in tables, loaded by name on first use (no import-time registration):
# detection tries them in this order, then the tables added with register_architecture.
BUILTIN_ARCHITECTURES: dict[str, str] = {
    "openvla": "mistvla.hooks.arch.llava:OPENVLA_TABLE",
    "llava": "mistvla.hooks.arch.llava:LLAVA_TABLE",
    "smolvla": "mistvla.hooks.arch.smolvla_points:SMOLVLA_TABLE",
    "llama": "mistvla.hooks.arch.llama:LLAMA_TABLE",
}
ARCHITECTURES: dict[str, ArchHookTable] = {}
"""Tables added at run time with :func:`register_architecture` (tests, user architectures)."""


def register_architecture(table: ArchHookTable) -> None:
    """Add (or replace) a table; detection tries the built-in tables first, then these in order added."""
    ARCHITECTURES[table.name] = table


def architectures() -> dict[str, ArchHookTable]:
    """Every known table by name: the built-in ones (imported lazily), then the registered ones."""
    import importlib

    out: dict[str, ArchHookTable] = {}
    for name, target in BUILTIN_ARCHITECTURES.items():
        module, _, attr = target.partition(":")
        out[name] = getattr(importlib.import_module(module), attr)
    out.update(ARCHITECTURES)
    return out


def model_type(model: nn.Module) -> str:
    """``model.config.model_type`` or ``""``."""
    return str(getattr(getattr(model, "config", None), "model_type", ""))


def llm_points(prefix: str) -> dict[str, tuple[str, ...]]:
    """The language-model names of a Llama-style decoder whose layers live at ``{prefix}.layers``."""
    return {
        "llm.blocks.{i}.resid_post": (f"{prefix}.layers.{{i}}",),
        "llm.blocks.{i}.resid_pre": (f"{prefix}.layers.{{i}}",),
        "llm.blocks.{i}.attn_out": (f"{prefix}.layers.{{i}}.self_attn",),
        "llm.blocks.{i}.mlp_out": (f"{prefix}.layers.{{i}}.mlp",),
        "llm.final_norm": (f"{prefix}.norm",),
    }


RESID_PRE = frozenset({"llm.blocks.{i}.resid_pre"})
"""Names read from the module's input (forward pre-hook) in Llama-style tables."""


def detect_arch(model: nn.Module) -> str:
    """Name of the first registered architecture whose ``detect`` accepts ``model``."""
    tables = architectures()
    for table in tables.values():
        if table.detect(model):
            return table.name
    raise KeyError(
        f"no hook table matches {type(model).__name__} (model_type={model_type(model)!r}); "
        f"known: {', '.join(tables)}"
    )


def _get(model: nn.Module, path: str) -> nn.Module | None:
    try:
        return model.get_submodule(path)
    except AttributeError:
        return None


def _expand(model: nn.Module, template: str, candidates: tuple[str, ...]) -> dict[str, str]:
    """Concrete canonical names -> module path, for the first candidate that exists."""
    for cand in candidates:
        if "{i}" not in cand:
            if _get(model, cand) is not None:
                return {template: cand}
            continue
        container = _get(model, cand.split(".{i}", 1)[0])
        if container is None:
            continue
        n = len(container)  # type: ignore[arg-type]
        return {template.format(i=i): cand.format(i=i) for i in range(n)}
    return {}


def _table(model: nn.Module, arch: str | ArchHookTable | None) -> ArchHookTable:
    if arch is None:
        return architectures()[detect_arch(model)]
    if isinstance(arch, str):
        tables = architectures()
        if arch not in tables:
            raise KeyError(f"unknown architecture {arch!r}; known: {', '.join(tables)}")
        return tables[arch]
    return arch


def point_paths(model: nn.Module, arch: str | ArchHookTable | None = None) -> dict[str, tuple[str, Reads]]:
    """Every valid canonical name of ``model`` -> (module path, read side).

    ``arch`` is a registered architecture name, an unregistered table, or None (detect).
    """
    table = _table(model, arch)
    out: dict[str, tuple[str, Reads]] = {}
    for template, candidates in table.points.items():
        reads: Reads = "input" if template in table.reads_input else "output"
        for name, path in _expand(model, template, candidates).items():
            out[name] = (path, reads)
    return out


def valid_names(model: nn.Module, arch: str | ArchHookTable | None = None) -> list[str]:
    """Sorted canonical hook names available in ``model`` (block indices in numeric order)."""

    def key(name: str) -> tuple[Any, ...]:
        return tuple(int(p) if p.isdigit() else p for p in name.split("."))

    return sorted(point_paths(model, arch), key=key)


def resolve(model: nn.Module, name: str, arch: str | ArchHookTable | None = None) -> Resolved:
    """Resolve a canonical hook name to its module; unknown names raise listing the valid ones."""
    table = _table(model, arch)
    paths = point_paths(model, table)
    if name not in paths:
        raise KeyError(
            f"hook point {name!r} is not valid for architecture {table.name!r}; "
            f"valid: {', '.join(valid_names(model, table))}"
        )
    path, reads = paths[name]
    return Resolved(table.name, HookPoint(name, path, model.get_submodule(path), reads))
