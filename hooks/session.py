"""Context-managed PyTorch hook registration that removes exactly what it added.

:class:`HookSession` is the base of capture and steering: hooks exist only
between ``__enter__`` and ``__exit__``; the handles it registered (and only
those) are removed in a ``finally``, also when the forward pass raises. Entering
an already-active session again registers nothing (the handles are removed when
the outermost ``with`` ends).

Also: :func:`count_hooks` (for leak checks) and the helpers that read or replace
the hidden-state tensor whether a module returns a tensor or a tuple.

>>> import torch, torch.nn as nn
>>> lin = nn.Linear(2, 2)
>>> class Noop(HookSession):
...     def _register(self):
...         self._add(lin.register_forward_hook(lambda m, i, o: None))
>>> s = Noop()
>>> with s:
...     with s:
...         count_hooks(lin)
1
>>> count_hooks(lin)
0
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn
from torch.utils.hooks import RemovableHandle

from mistvla.hooks.points import HookPoint


def count_hooks(model: nn.Module) -> int:
    """Hooks registered on ``model`` and its submodules, plus global module hooks."""
    n = 0
    for m in model.modules():
        n += len(m._forward_hooks) + len(m._forward_pre_hooks)
        n += len(m._backward_hooks) + len(m._backward_pre_hooks)
    g = nn.modules.module
    n += len(g._global_forward_hooks) + len(g._global_forward_pre_hooks)
    return n


def hidden_of(value: Any) -> torch.Tensor:
    """The hidden-state tensor of a module output or input: a tensor or a tuple's first element."""
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (tuple, list)) and value and isinstance(value[0], torch.Tensor):
        return value[0]
    if hasattr(value, "last_hidden_state"):
        return value.last_hidden_state
    raise TypeError(f"cannot find a hidden-state tensor in a {type(value).__name__}")


def with_hidden(value: Any, new: torch.Tensor) -> Any:
    """``value`` with its hidden-state tensor replaced by ``new``, keeping its type."""
    if isinstance(value, torch.Tensor):
        return new
    if isinstance(value, tuple):
        return (new, *value[1:])
    if isinstance(value, list):
        return [new, *value[1:]]
    value.last_hidden_state = new
    return value


def input_hidden(args: tuple[Any, ...], kwargs: dict[str, Any]) -> torch.Tensor:
    """Hidden state passed to a module: first positional argument or ``hidden_states=``."""
    if args and isinstance(args[0], torch.Tensor):
        return args[0]
    if isinstance(kwargs.get("hidden_states"), torch.Tensor):
        return kwargs["hidden_states"]
    raise TypeError("module input has no hidden-state tensor (first argument or hidden_states=)")


def replace_input_hidden(
    args: tuple[Any, ...], kwargs: dict[str, Any], new: torch.Tensor
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """(args, kwargs) with the hidden state replaced, for a forward pre-hook's return value."""
    if args and isinstance(args[0], torch.Tensor):
        return (new, *args[1:]), kwargs
    return args, {**kwargs, "hidden_states": new}


def register_point(
    point: HookPoint,
    on_hidden: Any,
) -> RemovableHandle:
    """Register ``on_hidden(h) -> new_h | None`` at a hook point (output or input side).

    ``on_hidden`` sees the hidden-state tensor (batch, positions, dim); when it
    returns a tensor, that replaces the hidden state in the module's output (or
    input); ``None`` leaves it untouched.
    """
    if point.reads == "input":

        def pre_hook(module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            new = on_hidden(input_hidden(args, kwargs))
            return None if new is None else replace_input_hidden(args, kwargs, new)

        return point.module.register_forward_pre_hook(pre_hook, with_kwargs=True)

    def hook(module: nn.Module, args: tuple[Any, ...], output: Any) -> Any:
        new = on_hidden(hidden_of(output))
        return None if new is None else with_hidden(output, new)

    return point.module.register_forward_hook(hook)


class HookSession:
    """Base context manager: subclasses implement ``_register`` calling ``self._add(handle)``."""

    def __init__(self) -> None:
        self._handles: list[RemovableHandle] = []
        self._depth = 0

    @property
    def active(self) -> bool:
        """True while inside the ``with`` block."""
        return self._depth > 0

    def _register(self) -> None:
        raise NotImplementedError

    def _add(self, handle: RemovableHandle) -> None:
        self._handles.append(handle)

    def _on_enter(self) -> None:
        """Reset per-session state before hooks are registered (subclasses)."""

    def __enter__(self) -> HookSession:
        if self._depth == 0:
            self._on_enter()
            try:
                self._register()
            except BaseException:
                self.remove()
                raise
        self._depth += 1
        return self

    def __exit__(self, *exc: object) -> None:
        self._depth -= 1
        if self._depth == 0:
            try:
                self._on_exit()
            finally:
                self.remove()

    def _on_exit(self) -> None:
        """Subclass hook run before the handles are removed (they are removed even if it raises)."""

    def remove(self) -> None:
        """Remove every handle this session registered (idempotent)."""
        handles, self._handles = self._handles, []
        for h in handles:
            h.remove()
