"""Doctests import each module once, under its installed name.

pytest's doctest collection imports ``harness/run/plan.py`` as the top-level
module ``harness.run.plan``, a second copy of ``mistvla.harness.run.plan``
with its own classes (an ``isinstance`` across the copies fails). The finder
below makes every module under ``harness.*``, ``hooks.*`` and ``policies.*``
the one ``mistvla.*`` module. Packages get empty stand-ins (searching the same
folders), so the import system's ``setattr(parent, child, module)`` never
touches a real package: ``mistvla.hooks.capture`` must stay the function.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys

_TOP = ("harness", "hooks", "policies")


class _Alias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname, path=None, target=None):  # type: ignore[override]
        if fullname.split(".", 1)[0] not in _TOP:
            return None
        real = importlib.import_module("mistvla." + fullname)
        if hasattr(real, "__path__"):
            spec = importlib.machinery.ModuleSpec(fullname, self, is_package=True)
            spec.submodule_search_locations = list(real.__path__)
            return spec
        return importlib.machinery.ModuleSpec(fullname, self)

    def create_module(self, spec):  # type: ignore[override]
        if spec.submodule_search_locations is not None:
            return None  # a fresh, empty stand-in package
        return sys.modules["mistvla." + spec.name]

    def exec_module(self, module) -> None:  # already executed under its real name
        pass


sys.meta_path.insert(0, _Alias())
