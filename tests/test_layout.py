"""The package's shape: layers that import one way, no cycle, small modules, a small front door."""

from __future__ import annotations

import ast
from pathlib import Path

import grimp
import pytest
from importlinter.cli import lint_imports

import r1rules

ROOT = Path(__file__).resolve().parents[1]
SRC = Path(r1rules.__file__).resolve().parent
MODULES = sorted(SRC.rglob("*.py"))


def _cycle(graph: grimp.ImportGraph) -> list[str] | None:
    """One import cycle among r1rules' modules, as a list of module names, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for target in sorted(graph.find_modules_directly_imported_by(module)):
            if not target.startswith("r1rules"):
                continue
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state:
                found = visit(target)
                if found:
                    return found
        path.pop()
        state[module] = 2
        return None

    for module in sorted(graph.modules):
        if module.startswith("r1rules") and module not in state:
            found = visit(module)
            if found:
                return found
    return None


def test_the_import_graph_has_no_cycle() -> None:
    graph = grimp.build_graph("r1rules")
    assert len(graph.modules) > 30  # the graph was really read
    assert _cycle(graph) is None


def test_the_cycle_finder_finds_a_planted_cycle() -> None:
    graph = grimp.build_graph("r1rules")
    graph.add_import(importer="r1rules._errors", imported="r1rules.recommend._evaluate")
    cycle = _cycle(graph)
    assert cycle is not None and cycle[0] == cycle[-1]


def test_the_layers_contract_holds(monkeypatch: pytest.MonkeyPatch) -> None:
    """import-linter's contracts in pyproject.toml: layers import downwards only, and only
    the engine adapter imports durable-rules."""
    monkeypatch.chdir(ROOT)
    assert lint_imports(no_cache=True, no_logo=True) == 0


def test_no_import_inside_a_function() -> None:
    """Imports sit at module level, so the graph above is the whole truth (no import hidden
    in a function to dodge a cycle). The one exception is the optional extra: matplotlib
    is imported where a chart is drawn, so that r1rules works without it."""
    hidden = []
    optional = []
    for path in MODULES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for inner in ast.walk(node):
                    if isinstance(inner, (ast.Import, ast.ImportFrom)):
                        names = (
                            [a.name for a in inner.names]
                            if isinstance(inner, ast.Import)
                            else [inner.module or ""]
                        )
                        where = f"{path.relative_to(SRC)}:{inner.lineno}"
                        if all(n.split(".")[0] == "matplotlib" for n in names):
                            optional.append(where)
                        else:
                            hidden.append(where)
    assert hidden == []
    assert optional and all(w.startswith("cli/_plot") for w in optional)


def test_no_module_imports_another_modules_private_names() -> None:
    """``from x import _name`` only inside one package's own modules is still refused: a
    private name is private to its module."""
    found = []
    for path in MODULES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module != "__future__":
                for alias in node.names:
                    if alias.name.startswith("_") and node.module != "durable_rules_engine":
                        found.append(f"{path.relative_to(SRC)}: {node.module}.{alias.name}")
    assert found == []


def test_no_module_is_over_400_lines() -> None:
    sizes = {
        str(p.relative_to(SRC)): len(p.read_text(encoding="utf-8").splitlines()) for p in MODULES
    }
    assert len(sizes) > 30
    assert {name: n for name, n in sizes.items() if n > 400} == {}


def test_the_front_door_exports_only_the_public_api() -> None:
    public = [name for name in dir(r1rules) if not name.startswith("_")]
    subpackages = {"catalog", "check", "cli", "engine", "physics", "recommend", "ruleset"}
    assert sorted(set(public) - subpackages) == sorted(r1rules.__all__)
    assert r1rules.__all__ == sorted(r1rules.__all__)
    assert all(not name.startswith("_") for name in r1rules.__all__)
