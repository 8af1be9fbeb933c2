"""Lazy registries: a name -> ``"module:Class"`` table, imported only when asked for.

Policies, interventions and risk sources are each a :class:`LazyRegistry`.
Nothing registers itself at import time: the table lists the built-in kinds,
and a name of the form ``"package.module:Class"`` resolves any class on the
path, so a user's own kind is one file and no edit here.

>>> reg = LazyRegistry("widget", {"ordered": ("collections:OrderedDict", None)})
>>> reg.resolve("ordered").__name__
'OrderedDict'
>>> reg.resolve("collections:Counter").__name__
'Counter'
>>> reg.resolve_class("ordered", dict).__name__
'OrderedDict'
>>> reg.resolve("nope")
Traceback (most recent call last):
...
mistvla.harness.errors.UnknownNameError: unknown widget 'nope'; known: ordered (or a 'package.module:Class' name)
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping

from mistvla.harness.errors import MissingDependencyError, UnknownNameError


class LazyRegistry:
    """Names of one kind of component -> (``"module:Class"``, optional extra that provides its dependencies)."""

    def __init__(self, kind: str, table: Mapping[str, tuple[str, str | None]]) -> None:
        self.kind = kind
        self.table = dict(table)

    def names(self) -> list[str]:
        return sorted(self.table)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and (name in self.table or ":" in name)

    def resolve(self, name: str) -> type:
        """Import and return the class registered under ``name`` (or named ``"module:Class"``)."""
        if name in self.table:
            target, extra = self.table[name]
        elif ":" in name:
            target, extra = name, None
        else:
            raise UnknownNameError(
                f"unknown {self.kind} {name!r}; known: {', '.join(self.names())} (or a 'package.module:Class' name)"
            )
        module_name, _, class_name = target.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as err:
            if name not in self.table:
                raise UnknownNameError(
                    f"{self.kind} {name!r}: cannot import {module_name!r} ({err})"
                ) from None
            if extra is None or (err.name or "").startswith("mistvla"):
                raise
            raise MissingDependencyError(
                f"{self.kind} {name!r} needs the optional dependency {err.name!r}; "
                f"install it with: pip install 'mistvla[{extra}]'"
            ) from err
        try:
            return getattr(module, class_name)
        except AttributeError:
            raise UnknownNameError(f"{self.kind} {name!r}: {module_name} has no {class_name!r}") from None

    def resolve_class(self, name: str, base: type) -> type:
        """:meth:`resolve`, checked to be a subclass of ``base`` (the kind's contract)."""
        cls = self.resolve(name)
        if not (isinstance(cls, type) and issubclass(cls, base)):
            raise UnknownNameError(
                f"{self.kind} {name!r} resolves to {cls!r}, which is not a {base.__name__}"
            )
        return cls
