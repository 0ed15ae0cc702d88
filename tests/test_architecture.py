"""The package's import graph has no cycle: every import between flexconv modules counts, those
inside functions too (they only hide a cycle until the function runs); imports under
``if TYPE_CHECKING:`` do not, since they never run."""

from __future__ import annotations

import ast
from pathlib import Path

import flexconv

ROOT = Path(__file__).resolve().parents[1]


def modules() -> dict[str, Path]:
    """Dotted name -> file of every module of the flexconv package."""
    found = {}
    for path in sorted((ROOT / "flexconv").rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node of ``tree`` except those under ``if TYPE_CHECKING:``."""
    nodes, todo = [], [tree]
    while todo:
        node = todo.pop()
        nodes.append(node)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            todo.extend(node.orelse)
        else:
            todo.extend(ast.iter_child_nodes(node))
    return nodes


def imported(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The flexconv modules that module ``name`` (file ``path``) imports, anywhere in its code."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in _runtime_nodes(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in known)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([node.module] if node.module else []))
            for alias in node.names:
                target = f"{base}.{alias.name}"
                found.add(target if target in known else base)
    return (found & set(known)) - {name}


def import_cycles() -> list[frozenset[str]]:
    """The strongly connected components of more than one module in flexconv's import graph (Tarjan)."""
    known = modules()
    graph = {name: sorted(imported(name, path, known)) for name, path in known.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for target in graph[module]:
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = {stack.pop()}
            while module not in component:
                component.add(stack.pop())
            if len(component) > 1:
                cycles.append(frozenset(component))

    for module in graph:
        if module not in index:
            visit(module)
    return cycles


def test_the_graph_sees_imports_inside_functions() -> None:
    known = modules()
    assert "flexconv.data.datamodule" in imported("flexconv.data", known["flexconv.data"], known)  # in __getattr__
    assert imported("flexconv.data.records", known["flexconv.data.records"], known) == set()  # a leaf


def test_no_import_cycle() -> None:
    cycles = [sorted(cycle) for cycle in import_cycles()]
    assert not cycles, f"import cycles: {cycles}"


# One idea per module: 440 lines in ruff's format (one argument per line once a call outgrows 120 columns).
MAX_MODULE_LINES = 440


def test_no_module_over_the_line_limit() -> None:
    lines = {name: len(path.read_text().splitlines()) for name, path in modules().items()}
    long = {name: n for name, n in lines.items() if n > MAX_MODULE_LINES}
    assert not long, f"modules over {MAX_MODULE_LINES} lines: {long}"


MAX_RESULTS_LINES = 850  # issue 39: the results package at most half its 1,701 lines; its studies are YAML data


def test_the_results_package_stays_a_thin_pipeline() -> None:
    package = Path(flexconv.__file__).parent / "experiments" / "results"
    lines = sum(len(path.read_text().splitlines()) for path in package.glob("*.py"))
    assert lines <= MAX_RESULTS_LINES, f"flexconv/experiments/results/*.py: {lines} lines, over {MAX_RESULTS_LINES}"
