"""The import graph, read with ``ast`` (no module is executed): no import cycle between modules or between
packages, and data flows one way, corpus → indexing → Qdrant → assistant → ui / eval: the core packages
import neither the user interface nor the command line.

Every import counts, those inside functions too (a lazy import is still a dependency: the day it runs, it
closes the loop), and importing ``a.b.c`` also runs ``a/__init__.py`` and ``a/b/__init__.py`` — except a
module's own packages: they are always loaded first, and a package's ``__init__`` re-exporting its modules
is not a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx  # installed with torch
import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("assistant", "indexing", "corpus", "ui", "eval", "bench")
# The core: what the server, the CLI and the evaluation are built on.
CORE = ("assistant", "indexing", "corpus")
# What the core must never import: the layers above it.
UPPER = ("ui", "eval", "bench", "assistant.cli")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if ".venv" not in path.parts:
                modules[module_name(path)] = path
    return modules


def imported_names(source: str, module: str, is_package: bool = False) -> set[str]:
    """Dotted names the module imports (``from a import b`` gives ``a`` and ``a.b``: the longest that is
    a module counts); relative imports made absolute."""
    package = module if is_package else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def import_graph() -> nx.DiGraph:
    modules = project_modules()
    graph = nx.DiGraph()
    graph.add_nodes_from(modules)
    for module, path in modules.items():
        for name in imported_names(path.read_text(encoding="utf-8"), module, path.name == "__init__.py"):
            parts = name.split(".")
            # The longest prefix that is a project module, and the packages above it (their __init__ runs).
            for end in range(len(parts), 0, -1):
                if ".".join(parts[:end]) in modules:
                    for top in range(1, end + 1):
                        target = ".".join(parts[:top])
                        if target in modules and target != module and not module.startswith(target + "."):
                            graph.add_edge(module, target)
                    break
    return graph


def unit(module: str) -> str:
    """The package a module belongs to: ``assistant``'s subpackages and modules are units of their own."""
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "assistant" and len(parts) > 1 else parts[0]


def within(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


GRAPH = import_graph()


def cycles(graph: nx.DiGraph) -> list[list[str]]:
    return sorted(sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1)


def test_the_graph_is_read():
    """The walk finds the imports it is meant to check (a broken walk would make every test below pass)."""
    assert GRAPH.has_edge("indexing.pipeline", "assistant.components.vector_store")
    assert GRAPH.has_edge("ui.server", "ui.gradio_app") or GRAPH.has_edge("ui.server", "ui.auth")
    assert GRAPH.number_of_edges() > 200


def test_no_import_cycle_between_modules():
    assert cycles(GRAPH) == []


def test_no_import_cycle_between_packages():
    units = nx.DiGraph()
    units.add_edges_from((unit(a), unit(b)) for a, b in GRAPH.edges if unit(a) != unit(b))
    found = cycles(units)
    detail = {tuple(c): [f"{a} → {b}" for a, b in GRAPH.edges if unit(a) in c and unit(b) in c and unit(a) != unit(b)]
              for c in found}
    assert found == [], detail


@pytest.mark.parametrize("core", CORE)
def test_core_packages_import_neither_ui_nor_cli(core):
    wrong = sorted(f"{a} → {b}" for a, b in GRAPH.edges
                   if within(a, (core,)) and not within(a, ("assistant.cli",)) and within(b, UPPER))
    assert wrong == []


def test_a_cycle_and_an_upward_import_are_caught():
    """The checks themselves: a planted cycle is reported, a planted upward import is resolved as one."""
    graph = GRAPH.copy()
    graph.add_edge("assistant.components.vector_store.base", "indexing.pipeline")
    assert any({"assistant.components.vector_store.base", "indexing.pipeline"} <= set(c) for c in cycles(graph))
    names = imported_names("def f():\n    from ..cli import app\n    import ui.server\n", "assistant.components.embedding")
    assert {"assistant.cli", "ui.server"} <= names
    assert all(within(n, UPPER) for n in ("assistant.cli", "assistant.cli.app", "ui.server"))
    assert not within("assistant.cli_like", UPPER)
