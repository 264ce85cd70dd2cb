"""The house's layering, read from the code's own imports (every import, also inside functions).

Fails when a folder imports what its layer may not (README "Architecture": what each folder may
import), and when modules or folders form an import circle.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = [
    "bot",
    "config",
    "delivery",
    "handlers",
    "i18n",
    "moderation",
    "runtime",
    "simulation",
    "storage",
    "web",
]
THIRD_PARTY_IO = {"telegram", "sqlalchemy", "alembic"}

ABOVE_CONFIG = {"bot", "handlers", "storage", "runtime", "simulation", "delivery", "web"}

# What each folder must never import (project folders and I/O libraries).
FORBIDDEN: dict[str, set[str]] = {
    "moderation": {"bot", "handlers", "storage", "runtime", "simulation", "delivery", "web"}
    | THIRD_PARTY_IO,
    "config": ABOVE_CONFIG | {"telegram"},
    "i18n": ABOVE_CONFIG | {"telegram"},
    "storage": {"bot", "handlers", "runtime", "simulation", "delivery", "web", "telegram"},
    "runtime": {"bot", "handlers", "simulation", "web"},
    "delivery": {"bot", "handlers", "simulation", "web"},
    "handlers": {"bot", "simulation", "web"},
    "web": {"bot", "simulation"},
    "bot": {"simulation"},
}
# The console is the one running-bot module that drives the simulator (it is its purpose).
ALLOWED_EXCEPTIONS = {("bot.console", "simulation")}


def modules() -> Iterator[tuple[str, Path]]:
    for package in PACKAGES:
        folder = ROOT / package
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*.py")):
            if "migrations" in path.parts:
                continue
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            yield ".".join(parts), path


def imports_of(name: str, path: Path) -> set[str]:
    """Every module name imported anywhere in the file, relative imports resolved."""
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            # ``from handlers import contacts`` imports the module handlers.contacts
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


GRAPH = {name: imports_of(name, path) for name, path in modules()}


def project_edges() -> dict[str, set[str]]:
    known = set(GRAPH)
    return {
        name: {i for i in targets if i in known and i != name} for name, targets in GRAPH.items()
    }


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_each_folder_imports_only_what_its_layer_may(layer: str) -> None:
    wrong = []
    for name, targets in GRAPH.items():
        if name.split(".")[0] != layer:
            continue
        for target in targets:
            top = target.split(".")[0]
            if top in FORBIDDEN[layer] and (name, top) not in ALLOWED_EXCEPTIONS:
                wrong.append(f"{name} imports {target}")
    assert not wrong, "\n".join(sorted(wrong))


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one member (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_no_module_import_circles() -> None:
    # A package's __init__ re-exporting its own modules is not a circle worth naming.
    edges = {
        name: {t for t in targets if not name.startswith(t + ".")}
        for name, targets in project_edges().items()
    }
    assert circles(edges) == []


def test_no_folder_import_circles() -> None:
    folders: dict[str, set[str]] = {}
    for name, targets in project_edges().items():
        top = name.split(".")[0]
        folders.setdefault(top, set()).update(
            t.split(".")[0]
            for t in targets
            if t.split(".")[0] != top and (name, t.split(".")[0]) not in ALLOWED_EXCEPTIONS
        )
    assert circles(folders) == []


def test_the_check_sees_a_circle_and_a_forbidden_import() -> None:
    # The checker itself: a made-up circle and a made-up forbidden edge are found.
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert "storage.db" in GRAPH["bot.cli"]
    assert "telegram" not in {t.split(".")[0] for t in GRAPH["moderation.discipline"]}
