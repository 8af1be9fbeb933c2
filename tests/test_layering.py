"""The package layering of docs/architecture.md, and the installed package list, checked on the source."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
POLICIES_MAY_USE = (
    "mistvla.harness.errors",
    "mistvla.harness.registry",
    "mistvla.harness.typed",
    "mistvla.harness.config",
    "mistvla.harness.envs",
)


def _imports(path: Path, top_level_only: bool) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    out = []
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
    return out


def _files(folder: str) -> list[Path]:
    return [p for p in sorted((ROOT / folder).rglob("*.py")) if "testing" not in p.parts]


def test_hooks_import_neither_harness_nor_policies() -> None:
    bad = [
        f"{p.relative_to(ROOT)}:{n} imports {m}"
        for p in _files("hooks")
        for n, m in _imports(p, top_level_only=False)
        if m.startswith(("mistvla.harness", "mistvla.policies"))
    ]
    assert not bad, bad


def test_policies_use_only_the_harness_leaf_modules() -> None:
    bad = [
        f"{p.relative_to(ROOT)}:{n} imports {m}"
        for p in _files("policies")
        for n, m in _imports(p, top_level_only=False)
        if m.startswith("mistvla.harness") and not m.startswith(POLICIES_MAY_USE)
    ]
    assert not bad, bad


def test_harness_imports_policies_only_inside_functions() -> None:
    bad = [
        f"{p.relative_to(ROOT)}:{n} imports {m} at module level"
        for p in _files("harness")
        for n, m in _imports(p, top_level_only=True)
        if m.startswith("mistvla.policies")
    ]
    assert not bad, bad


def test_every_package_folder_is_installed() -> None:
    declared = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {
        ".".join(("mistvla", *init.parent.relative_to(ROOT).parts))
        for top in ("harness", "hooks", "policies")
        for init in (ROOT / top).rglob("__init__.py")
    }
    assert found == declared, {
        "missing from pyproject": sorted(found - declared),
        "stale": sorted(declared - found),
    }


def test_modules_stay_small() -> None:
    big = [f"{p.relative_to(ROOT)} ({n} lines)" for top in ("harness", "hooks", "policies") for p in _files(top)
           if (n := len(p.read_text().splitlines())) > 400]  # fmt: skip
    assert not big, big
