"""No import cycle inside a package of the project, counting the imports made inside functions
(a lazy import that closes a cycle is still a cycle: the two modules cannot be understood, or
split, one without the other). Imports under ``if TYPE_CHECKING:`` do not run and do not count.

An edge goes to the most specific module an import names: ``from nas.kinds import registry``
is an edge to ``nas.kinds.registry``; ``from nas.kinds import get_kind`` to ``nas.kinds``
(its ``__init__``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("nas", "search_spaces", "explain")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    """ids of the nodes inside ``if TYPE_CHECKING:`` blocks."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If):
            test = node.test
            name = test.id if isinstance(test, ast.Name) else getattr(test, "attr", None)
            if name == "TYPE_CHECKING":
                for child in node.body:
                    skip.update(id(n) for n in ast.walk(child))
    return skip


def imports_of(source: str, this: str, is_package: bool, modules: set[str]) -> set[str]:
    """The project modules ``this`` imports (anywhere in its source)."""
    tree = ast.parse(source)
    skip = _type_checking_nodes(tree)
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                name = alias.name
                while name and name not in modules:
                    name = name.rpartition(".")[0]
                if name:
                    found.add(name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = this if is_package else this.rpartition(".")[0]
                for _ in range(node.level - 1):
                    base = base.rpartition(".")[0]
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                if sub in modules:
                    found.add(sub)
                elif target in modules:
                    found.add(target)
    found.discard(this)
    return found


def import_graph(packages: tuple[str, ...] = PACKAGES) -> dict[str, set[str]]:
    files = [f for p in packages for f in sorted((ROOT / p).rglob("*.py"))]
    modules = {module_name(f): f for f in files}
    return {
        name: imports_of(
            f.read_text(encoding="utf-8"), name, f.name == "__init__.py", set(modules)
        )  # fmt: skip
        for name, f in modules.items()
    }


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a path that returns to its start, or None."""
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_scanner_sees_lazy_imports_and_cycles() -> None:
    modules = {"p", "p.a", "p.b", "p.c"}
    lazy = "def f():\n    from p.b import thing\n"
    assert imports_of(lazy, "p.a", False, modules) == {"p.b"}
    assert imports_of("from p import b\n", "p.a", False, modules) == {"p.b"}
    assert imports_of("from p import thing\n", "p.a", False, modules) == {"p"}
    assert imports_of("from . import c\n", "p.a", False, modules) == {"p.c"}
    guarded = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import p.b\n"
    assert imports_of(guarded, "p.a", False, modules) == set()
    assert find_cycle({"p.a": {"p.b"}, "p.b": {"p.c"}, "p.c": {"p.a"}}) == [
        "p.a", "p.b", "p.c", "p.a"]  # fmt: skip
    assert find_cycle({"p.a": {"p.b"}, "p.b": {"p.c"}, "p.c": set()}) is None


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_cycle_inside_a_package(package: str) -> None:
    graph = import_graph((package,))
    assert len(graph) >= 10, sorted(graph)  # the scan really read the package
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_no_import_cycle_across_packages() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])
