"""The code's shape, checked: no import cycles inside genrec/, modules of a readable size.

The layering contracts themselves are import-linter's (`lint-imports`, run by .ci/run).
"""

from __future__ import annotations

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
