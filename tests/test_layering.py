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


def _module_graph() -> dict[str, set[str]]:
    """``mistvla`` module -> the ``mistvla`` modules it imports anywhere (in functions too)."""
    modules = {}
    for top in ("harness", "hooks", "policies"):
        for p in (ROOT / top).rglob("*.py"):
            parts = p.relative_to(ROOT).with_suffix("").parts
            modules[".".join(("mistvla", *(parts[:-1] if parts[-1] == "__init__" else parts)))] = p
    graph = {}
    for name, path in modules.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found |= {node.module, *(f"{node.module}.{a.name}" for a in node.names)}
            elif isinstance(node, ast.Import):
                found |= {a.name for a in node.names}
        graph[name] = {m for m in found if m in modules and m != name}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` (depth-first search), or None."""
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    stack: list[str] = []

    def visit(v: str) -> list[str] | None:
        state[v] = 1
        stack.append(v)
        for w in sorted(graph[v]):
            if state.get(w) == 1:
                return [*stack[stack.index(w) :], w]
            if w not in state and (found := visit(w)):
                return found
        stack.pop()
        state[v] = 2
        return None

    return next((c for v in sorted(graph) if v not in state and (c := visit(v))), None)


def test_the_cycle_check_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_no_module_imports_itself_back() -> None:
    """No import cycle between modules, counting imports inside functions (a deferred import is still a cycle)."""
    assert _cycle(_module_graph()) is None, " -> ".join(_cycle(_module_graph()) or [])


def test_architecture_doc_names_every_module() -> None:
    """docs/architecture.md cannot drift: every module (and subpackage folder) of the three packages is named there."""
    doc = (ROOT / "docs" / "architecture.md").read_text()
    missing = [
        str(p.relative_to(ROOT))
        for top in ("harness", "hooks", "policies")
        for p in sorted((ROOT / top).rglob("*.py"))
        if (p.name != "__init__.py" and p.name not in doc)
        or (p.name == "__init__.py" and f"{p.parent.name}/" not in doc)
    ]
    assert not missing, f"add to docs/architecture.md: {missing}"
