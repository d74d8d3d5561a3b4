"""The package's shape: no import cycles, and each layer imports only the layers below it.

ops (epaper/*.py) → pipelines → crawler → storage; the replica imports none of them (it
decides its truth from its own plan). Imports inside functions count too.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = {"epaper": "epaper", "crawler": "epaper.crawler", "pipelines": "epaper.pipelines",
           "storage": "epaper.storage", "replica": "epaper.replica"}
# What each layer may import of the package, besides itself.
ALLOWED = {"epaper.storage": set(), "epaper.replica": set(), "epaper.crawler": {"epaper.storage"},
           "epaper.pipelines": {"epaper.crawler", "epaper.storage"}}


def modules() -> dict[str, Path]:
    found = {}
    for folder, package in FOLDERS.items():
        for path in (ROOT / folder).rglob("*.py"):
            parts = list(path.relative_to(ROOT / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join([package, *parts])] = path
    return found


def imports(path: Path, name: str, known: dict[str, Path]) -> set[str]:
    """The package modules `name` imports (a name imported from a package counts as its module)."""
    out = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        out.update(t for t in targets if t in known and t != name)
    return out


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(path, name, known) for name, path in known.items()}


def layer(name: str) -> str:
    for package in sorted(ALLOWED, key=len, reverse=True):
        if name == package or name.startswith(package + "."):
            return package
    return "epaper"


def test_no_import_cycles():
    edges = graph()
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                pytest.fail("import cycle: " + " → ".join(path[path.index(nxt):] + [nxt]))
            if nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node)


def test_each_layer_imports_only_the_layers_below():
    wrong = []
    for name, targets in graph().items():
        own = layer(name)
        if own == "epaper":  # the ops layer may use everything
            continue
        wrong += [f"{name} imports {t}" for t in sorted(targets) if layer(t) not in {own, *ALLOWED[own]}]
    assert wrong == []


def test_the_graph_sees_imports_inside_functions():
    edges = graph()
    assert "epaper.storage.load" in edges["epaper"]  # `from epaper import load_articles` is lazy
    assert "epaper.crawler.ledger" in edges["epaper.crawler.spiders.epaper"]
