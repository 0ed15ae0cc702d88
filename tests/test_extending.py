"""docs/extending.md runs as written (every ``python`` block, section by section) and each recipe's ``Touches:``
line names the files that its kind of addition touches in the repository."""

from __future__ import annotations

import ast
import contextlib
import inspect
import io
import re
from pathlib import Path

import pytest

PAGE = Path(__file__).resolve().parents[1] / "docs" / "extending.md"


def sections() -> dict[str, list[str]]:
    """``{heading: [python block, ...]}`` for every ``## heading`` of the page."""
    found: dict[str, list[str]] = {}
    for part in re.split(r"^## ", PAGE.read_text(), flags=re.M)[1:]:
        heading, _, body = part.partition("\n")
        found[heading.strip()] = re.findall(r"```python\n(.*?)```", body, flags=re.S)
    return found


@pytest.mark.parametrize("heading", list(sections()))
def test_recipe_runs(heading: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = sections()[heading]
    assert blocks, f"section {heading!r} of {PAGE.name} has no python block"
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": f"extending_{len(heading)}"}
    for block in blocks:
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(block, str(PAGE), "exec"), namespace)


# -- each recipe's Touches line against the repository ----------------------------------------------------------
ROOT = PAGE.parents[1]
TOUCHES = re.compile(r"Touches: `[^`]+`(?:, `[^`]+`)*\.")


def touches(heading: str) -> list[str]:
    """The paths of the ``Touches:`` line that ends section ``heading`` (HTML comments aside)."""
    body = re.split(r"^## ", PAGE.read_text(), flags=re.M)
    text = next(part.partition("\n")[2] for part in body[1:] if part.partition("\n")[0].strip() == heading)
    lines = [line for line in re.sub(r"<!--.*?-->", "", text, flags=re.S).splitlines() if line.strip()]
    assert TOUCHES.fullmatch(lines[-1]), f"section {heading!r} does not end with a Touches line: {lines[-1]!r}"
    return re.findall(r"`([^`]+)`", lines[-1])


def matches(pattern: str, path: str) -> bool:
    """Whether repository path ``path`` is ``pattern`` (``<name>``: one file or folder name)."""
    parts = [re.escape(piece) for piece in pattern.split("<name>")]
    return re.fullmatch(r"[^/]+".join(parts), path) is not None


def relative(path: str) -> str:
    return Path(path).resolve().relative_to(ROOT).as_posix()


def parametrized_over(registry: str) -> set[str]:
    """The test files with a ``pytest.mark.parametrize`` whose values read ``registry`` (every registered object),
    directly or through a module-level name computed from it."""
    found = set()
    for path in sorted((ROOT / "tests").rglob("test_*.py")):
        tree = ast.parse(path.read_text())
        readers = {registry}
        for node in tree.body:
            if isinstance(node, ast.Assign) and readers & {
                n.id for n in ast.walk(node.value) if isinstance(n, ast.Name)
            }:
                readers |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "parametrize":
                if readers & {n.id for arg in node.args[1:] for n in ast.walk(arg) if isinstance(n, ast.Name)}:
                    found.add(relative(str(path)))
    return found


def importing_packages(modules: set[str]) -> set[str]:
    """The ``__init__.py`` files under flexconv/ that import one of ``modules`` (what registers them at start-up)."""
    found = set()
    for path in sorted((ROOT / "flexconv").rglob("__init__.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = {node.module} if isinstance(node, ast.ImportFrom) else set()
            names |= {alias.name for alias in node.names} if isinstance(node, ast.Import) else set()
            if names & modules:
                found.add(relative(str(path)))
    return found


def kernel_net_files() -> tuple[set[str], set[str]]:
    """(the modules defining the built-in kernel networks, the package that imports them and their test)."""
    from flexconv.nn import KERNEL_NETS

    classes = [cls for cls in KERNEL_NETS.values() if cls.__module__.startswith("flexconv.")]
    modules = {relative(inspect.getsourcefile(cls)) for cls in classes}
    return modules, importing_packages({cls.__module__ for cls in classes}) | parametrized_over("KERNEL_NETS")


def model_files() -> tuple[set[str], set[str]]:
    """(the modules defining the built-in models' registered functions, the tests over every model)."""
    from flexconv.models.registry import list_models, model_function

    functions = [model_function(name) for name in list_models()]
    modules = {relative(inspect.getsourcefile(f)) for f in functions if f.__module__.startswith("flexconv.")}
    return modules, parametrized_over("list_models")


def dataset_files() -> tuple[set[str], set[str]]:
    """(the modules defining the built-in datasets' loaders, the files of their fake writers, the other files of
    flexconv/data that name a dataset (its record) and the tests over every dataset)."""
    from flexconv.data.records import DATASETS, resolve

    records = [r for r in DATASETS.values() if resolve(r.loader).__module__.startswith("flexconv.")]
    modules = {relative(inspect.getsourcefile(resolve(r.loader))) for r in records}
    shared = {relative(inspect.getsourcefile(resolve(r.fake))) for r in records if r.fake}
    names = {r.name for r in records}
    for path in sorted((ROOT / "flexconv" / "data").rglob("*.py")):
        constants = {n.value for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.Constant)}
        if constants & names and relative(str(path)) not in modules:
            shared.add(relative(str(path)))
    return modules, shared | parametrized_over("DATASETS")


RECIPES = {
    "Adding a kernel network": kernel_net_files,
    "Adding a model family": model_files,
    "Adding a dataset": dataset_files,
}


@pytest.mark.parametrize("heading", list(RECIPES))
def test_recipe_names_the_files_it_touches(heading: str) -> None:
    """A recipe's Touches line names exactly the files that define, register and test the built-in objects of its
    kind: each shared file (a registering package, a table, the tests over every object) by its path, each module
    of objects by its path or by the line's ``<name>`` pattern. A recipe that forgets a file, names one that plays
    no part, or a registry that moves, fails."""
    patterns = touches(heading)
    modules, shared = RECIPES[heading]()
    assert modules and shared, heading
    literal = {p for p in patterns if "<name>" not in p}
    assert literal <= modules | shared, f"{heading} names {sorted(literal - modules - shared)}, which play no part"
    forgotten = sorted(shared - literal)
    assert not forgotten, f"{heading} touches {forgotten} too, which its Touches line does not name"
    unmatched = sorted(m for m in modules if not any(matches(p, m) for p in patterns))
    assert not unmatched, f"{heading}: {unmatched} match no path of its Touches line"
    for pattern in (p for p in patterns if p not in literal):
        assert any(matches(pattern, m) for m in modules), f"{heading}: {pattern} is none of {sorted(modules)}"
