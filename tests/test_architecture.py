"""The code's shape, checked: no import cycles inside genrec/, rooms of at most 15 modules,
modules and functions of a readable size, seams typed rather than `Any`.

The layering contracts themselves are import-linter's (`lint-imports`, run by .ci/run).
"""

from __future__ import annotations

import ast
from pathlib import Path

import grimp
import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "genrec"
MAX_LINES = 450
# Modules allowed over MAX_LINES, each with the reason it is one concept (see docs/ARCHITECTURE.md).
ONE_CONCEPT: dict[str, str] = {}

def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of size > 1 among genrec's modules (Tarjan)."""
    modules = sorted(m for m in graph.modules if m.startswith("genrec"))
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.find_modules_directly_imported_by(v)):
            if not w.startswith("genrec"):
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for m in modules:
        if m not in index:
            visit(m)
    return out

def test_genrec_has_no_import_cycles_between_modules() -> None:
    graph = grimp.build_graph("genrec", cache_dir=None)
    # A package's __init__ re-exports its modules; a module that imports its own package's
    # __init__ closes a loop that is only a convenience. Count real module-to-module knots only.
    for pkg in [m for m in graph.modules if m.startswith("genrec") and graph.find_children(m)]:
        for child in list(graph.find_modules_directly_imported_by(pkg)):
            graph.remove_import(importer=pkg, imported=child)
    cycles = _cycles(graph)
    assert not cycles, (
        "import cycles inside genrec/ (modules that import each other):\n"
        + "\n".join(" <-> ".join(c) for c in cycles)
    )

@pytest.mark.parametrize(
    "path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE))
)
def test_module_is_a_readable_size(path: Path) -> None:
    rel = str(path.relative_to(PACKAGE))
    n = len(path.read_text(encoding="utf-8").splitlines())
    if rel in ONE_CONCEPT:
        return
    assert n <= MAX_LINES, f"genrec/{rel} has {n} lines (limit {MAX_LINES}): split it by concept"


MAX_MODULES = 15  # per package directory, not counting __init__.py
MAX_FUNCTION_LINES = 80  # def to last line, nested functions included
MAX_BARE_ANY = 40  # parameters, *args/**kwargs, returns and annotated fields typed just `Any`


def _is_bare_any(node: ast.expr | None) -> bool:
    return (isinstance(node, ast.Name) and node.id == "Any") or (
        isinstance(node, ast.Attribute) and node.attr == "Any"
    )


def _bare_any(tree: ast.AST) -> int:
    count = 0
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            a = node.args
            params = [*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg]
            count += sum(_is_bare_any(p.annotation) for p in params if p is not None)
            count += _is_bare_any(node.returns)
        elif isinstance(node, ast.AnnAssign):
            count += _is_bare_any(node.annotation)
    return count


@pytest.mark.parametrize(
    "package",
    sorted(p for p in PACKAGE.rglob("*") if p.is_dir() and (p / "__init__.py").exists()),
    ids=lambda p: str(p.relative_to(PACKAGE.parent)),
)
def test_package_directory_holds_at_most_15_modules(package: Path) -> None:
    modules = sorted(p.name for p in package.glob("*.py") if p.name != "__init__.py")
    assert len(modules) <= MAX_MODULES, (
        f"{package.relative_to(PACKAGE.parent)} holds {len(modules)} modules "
        f"(limit {MAX_MODULES}): "
        "give a concept its own room (a subpackage)"
    )


@pytest.mark.parametrize(
    "path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE))
)
def test_functions_are_a_readable_size(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    long = [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines, from line {node.lineno})"
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and (node.end_lineno or node.lineno) - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert not long, (
        f"genrec/{path.relative_to(PACKAGE)}: functions over {MAX_FUNCTION_LINES} lines: {long}"
    )


def test_seams_are_typed_not_bare_any() -> None:
    counts = {
        str(p.relative_to(PACKAGE)): _bare_any(ast.parse(p.read_text(encoding="utf-8")))
        for p in sorted(PACKAGE.rglob("*.py"))
    }
    total = sum(counts.values())
    worst = sorted(((n, m) for m, n in counts.items() if n), reverse=True)[:8]
    assert total < MAX_BARE_ANY, (
        f"{total} bare `Any` annotations in genrec/ (limit {MAX_BARE_ANY}); most in: {worst}"
    )
