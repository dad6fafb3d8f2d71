"""No import cycles in ``metaclust_automl``, counting imports inside functions.

A cycle hidden in a function (``a`` imports ``b`` at module level, ``b`` imports ``a`` when
called) still ties the two modules into one: neither can be understood, tested or moved
without the other. The graph is read from the source with ``ast`` (nothing is imported):
an edge for every ``import``/``from ... import`` anywhere in a module, except under
``if TYPE_CHECKING:``; importing ``p.q.r`` from outside package ``p.q`` also runs ``p.q``'s
``__init__`` (an edge to it too).
"""
from __future__ import annotations

import ast
from pathlib import Path

import metaclust_automl

ROOT = Path(metaclust_automl.__file__).resolve().parent
PACKAGE = "metaclust_automl"


def module_names() -> dict[str, Path]:
    out = {}
    for path in ROOT.rglob("*.py"):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST) -> list[tuple[str | None, int, list[str]]]:
    """(module, level, names) of every import outside ``if TYPE_CHECKING:`` blocks."""
    found: list[tuple[str | None, int, list[str]]] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.extend((a.name, 0, []) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            found.append((node.module, node.level, [a.name for a in node.names]))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = module_names()
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        is_pkg = path.name == "__init__.py"
        here = name.split(".") if is_pkg else name.split(".")[:-1]
        for module, level, names in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            if level:
                base = here[: len(here) - (level - 1)] if level > 1 else list(here)
                target = ".".join(base + ([module] if module else []))
            else:
                target = module or ""
            if not (target == PACKAGE or target.startswith(PACKAGE + ".")):
                continue
            targets = [target] + [f"{target}.{n}" for n in names if f"{target}.{n}" in modules]
            for t in targets:
                parts = t.split(".")
                for i in range(2, len(parts) + 1):  # the packages entered on the way, then t
                    step = ".".join(parts[:i])
                    if step in modules and step != name and not name.startswith(step + "."):
                        graph[name].add(step)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    import sys

    sys.setrecursionlimit(max(10_000, sys.getrecursionlimit()))
    for v in sorted(graph):
        if v not in index:
            strong(v)
    return out


def test_the_graph_sees_imports_inside_functions():
    """The reader itself: an import inside a function is an edge (so the test can fail)."""
    graph = import_graph()
    assert "metaclust_automl.plugins" in graph["metaclust_automl.running.backend_runner"]  # inside a function
    demo = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(demo) == [["a", "b", "c"]]


def test_no_import_cycles():
    found = cycles(import_graph())
    assert not found, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in found)
