"""docs/extending.md runs as written: every ``python`` block, section by section."""

from __future__ import annotations

import contextlib
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
